-- Any of the approval states (a text[]).
AND approval_state = ANY($?)
