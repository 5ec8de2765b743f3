"""Joining generated sentences."""

from labkit.prose import sentences


def test_sentences_join_the_non_empty_parts_with_one_space():
    assert sentences("First.", "", "  Second. ", None, "Third.") == "First. Second. Third."


def test_sentences_of_nothing_is_empty():
    assert sentences("", " ") == ""
