-- approvable_by_me: runs of these definitions, or these single (definition, name) runs (JSON
-- arrays; the second is served by the unique runs_name index).
AND (definition_id IN (SELECT value FROM json_each(:within_defs))
     OR (definition_id, name) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(:within_runs)))
