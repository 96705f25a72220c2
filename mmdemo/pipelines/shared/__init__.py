"""Helpers that several applications share, kept apart from the applications themselves: zero-shot labels
(captioning, search), the text translator (captioning, speech), PNG parameters (text-to-image)."""
