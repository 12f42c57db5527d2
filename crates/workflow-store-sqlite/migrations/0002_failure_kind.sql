-- The typed reason of a FAILED run (workflow_core::FailureKind's wire string), so that no code
-- matches on error text. Existing rows get it from the texts the engine wrote before.
ALTER TABLE runs ADD COLUMN failure TEXT;
UPDATE runs SET failure = CASE
    WHEN execution_state <> 'FAILED' THEN NULL
    WHEN error = 'Stopped by user' THEN 'STOPPED'
    WHEN error = 'Timed out' THEN 'TIMED_OUT'
    WHEN error LIKE 'Upload % failed to ingest' THEN 'UPLOAD_FAILED'
    ELSE 'REPORTED'
END;
