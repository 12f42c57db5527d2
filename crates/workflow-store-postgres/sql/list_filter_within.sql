-- approvable_by_me: runs of these definitions (a uuid[]), or these single (definition, name)
-- runs (two parallel arrays; the pairs are served by the unique runs_name index).
AND (definition_id = ANY($?)
     OR (definition_id, name) IN (SELECT d, n FROM unnest($?::uuid[], $?::text[]) AS w(d, n)))
