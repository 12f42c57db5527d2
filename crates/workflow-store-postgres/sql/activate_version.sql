-- CatalogWrite::ActivateVersion: $3 becomes the only active version of document $2, after
-- lock_document.sql locked the document's row in the same transaction.
UPDATE versions SET active = (part_id = $3)
WHERE tenant_id = $1
  AND part_id IN (SELECT id FROM path_parts WHERE tenant_id = $1 AND parent_id = $2)
  AND active <> (part_id = $3)
