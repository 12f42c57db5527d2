-- Any of the approval states (a JSON array).
AND approval_state IN (SELECT value FROM json_each(:approvals))
