-- Several PutPart catalog writes in one statement (a run's folder and its three subfolders are
-- four): the parts upserted, and each one's version facts upserted or removed. Parallel arrays,
-- one element per part; no id appears twice (the caller splits the batch where one would).
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[],
                         $7::text[], $8::jsonb[], $9::bigint[], $10::text[], $11::boolean[])
        AS t(tenant_id, id, kind, name, parent_id, path, approval_state, approval, created_at,
             ingestion, active)
), parts AS (
    INSERT INTO path_parts (tenant_id, id, kind, name, parent_id, path, approval_state,
                            approval, created_at)
    SELECT tenant_id, id, kind, name, parent_id, path, approval_state, approval, created_at
    FROM input
    ON CONFLICT (tenant_id, id) DO UPDATE SET
        kind = EXCLUDED.kind, name = EXCLUDED.name, parent_id = EXCLUDED.parent_id,
        path = EXCLUDED.path, approval_state = EXCLUDED.approval_state,
        approval = EXCLUDED.approval, created_at = EXCLUDED.created_at
), unversioned AS (
    DELETE FROM versions v USING input i
    WHERE v.tenant_id = i.tenant_id AND v.part_id = i.id AND i.ingestion IS NULL
)
INSERT INTO versions (tenant_id, part_id, ingestion, active)
SELECT tenant_id, id, ingestion, active FROM input WHERE ingestion IS NOT NULL
ON CONFLICT (tenant_id, part_id) DO UPDATE SET
    ingestion = EXCLUDED.ingestion, active = EXCLUDED.active
