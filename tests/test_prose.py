"""Joining generated sentences."""

from labkit.prose import sentences


def test_sentences_join_the_non_empty_parts_with_one_space():
    assert sentences("First.", "", "  Second. ", None, "Third.") == "First. Second. Third."


def test_sentences_of_nothing_is_empty():
    assert sentences("", " ") == ""


def test_points_are_singular_only_for_one():
    from labkit.prose import points
    assert (points(0.01), points(0.02), points(0.025), points(0.0)) == ("1 point", "2 points", "2.5 points", "0 points")
