"""Vocabulary lookups: integer_lookup, string_lookup, text_vectorization and the table API they share."""
