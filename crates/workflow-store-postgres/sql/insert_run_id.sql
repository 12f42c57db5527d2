-- The tombstone of a new run id (store requirement 2); its primary key is the backstop for two
-- creations of one id racing each other.
INSERT INTO run_ids (id) VALUES ($1)
