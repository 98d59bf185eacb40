"""Translations: the translators' files (export, import, status) and imported translations going live."""
