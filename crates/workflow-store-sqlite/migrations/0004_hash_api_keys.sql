-- SEC-3: API keys are stored only as SHA-256 digests (32-byte BLOBs); lookup is by digest.
-- `workflow_api_key_digest(text)` is registered on the migrating connection by the store
-- (workflow_core::ApiKeyDigest::of: the one definition of the digest). After this migration the
-- store rewrites the file (VACUUM with secure_delete, then truncates the WAL), so the keys in
-- clear do not survive in freed pages either.
ALTER TABLE users ADD COLUMN api_key_sha256 BLOB;
UPDATE users SET api_key_sha256 = workflow_api_key_digest(api_key) WHERE api_key IS NOT NULL;
DROP INDEX users_by_api_key;
ALTER TABLE users DROP COLUMN api_key;
CREATE INDEX users_by_api_key_sha256 ON users (api_key_sha256) WHERE api_key_sha256 IS NOT NULL;
