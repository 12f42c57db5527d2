-- Version-checked update of a live row. Only the columns whose value changes are set (spliced in
-- at /*SET*/ from the fixed column list of src/codec.rs, each bound as a parameter), so an
-- index is rewritten only when one of its columns really changed.
UPDATE runs SET /*SET*/ WHERE id = +:id AND version = +:expected
