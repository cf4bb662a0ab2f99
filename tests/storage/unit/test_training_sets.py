"""Training set checks and the zip layout, without any server."""

import io
import zipfile

import pytest
from imagegen_storage.domain.training_sets import (
    WHOLE_SET,
    TrainingSetProblem,
    TrainingSetRules,
    TrainingZip,
    check_image,
    training_set_problems,
)
from PIL import Image

RULES = TrainingSetRules(min_images=3, max_images=5, min_short_side_pixels=512)


def codes(problems: list[TrainingSetProblem]) -> list[tuple[int, str]]:
    return [(problem.index, problem.code) for problem in problems]


def test_a_set_of_distinct_large_enough_images_has_no_problem(png):
    images = [check_image(i, png(600, 800, color=(i, 0, 0))) for i in range(3)]
    assert training_set_problems(RULES, 3, images, []) == []


def test_every_problem_of_every_image_is_listed_by_index(png):
    unreachable = TrainingSetProblem(1, "unreachable", "the image could not be fetched: 404")
    images = [
        check_image(0, png(600, 800, color=(1, 2, 3))),
        # index 1 could not be read
        check_image(2, b"\x89PNG but not really"),
        check_image(3, png(300, 300)),
        check_image(4, png(600, 800, color=(1, 2, 3))),
        check_image(5, png(600, 800, color=(1, 2, 3))),
    ]
    problems = training_set_problems(RULES, 6, images, [unreachable])
    assert codes(problems) == [
        (WHOLE_SET, "too_many_images"),
        (1, "unreachable"),
        (2, "not_an_image"),
        (3, "too_small"),
        (4, "duplicate"),
        (5, "duplicate"),
    ]
    by_index = {problem.index: problem.message for problem in problems}
    assert "300x300" in by_index[3] and "512" in by_index[3]
    # Each duplicate names the first source with the same bytes.
    assert by_index[4] == by_index[5] == "the same image as source 0"
    assert by_index[WHOLE_SET] == "6 images; at most 5 are allowed"


def test_one_image_can_have_several_problems(png):
    small = png(300, 300)
    images = [check_image(0, small), check_image(1, small)]
    assert codes(training_set_problems(RULES, 2, images, [])) == [
        (WHOLE_SET, "too_few_images"),
        (0, "too_small"),
        (1, "too_small"),
        (1, "duplicate"),
    ]


def test_the_short_side_may_equal_the_minimum(png):
    images = [check_image(i, png(512, 2000, color=(0, i, 0))) for i in range(3)]
    assert training_set_problems(RULES, 3, images, []) == []


def test_images_are_identified_by_their_bytes(png):
    checked = check_image(7, png(600, 800))
    assert (checked.index, checked.image.content_type, checked.image.width, checked.image.height) == (
        7,
        "image/png",
        600,
        800,
    )
    assert check_image(0, b"GIF89a not ours").image is None


@pytest.mark.parametrize(
    ("rules", "fields"),
    [
        (TrainingSetRules(0, 5, 512), {"min_images"}),
        (TrainingSetRules(5, 3, 512), {"max_images"}),
        (TrainingSetRules(1, 1, -1), {"min_short_side_pixels"}),
        (TrainingSetRules(1, 1, 0), set()),
    ],
)
def test_rules_that_make_no_sense_are_named(rules, fields):
    assert set(rules.violations()) == fields


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, "JPEG")
    return buffer.getvalue()


def build_zip(images: list[tuple[str, bytes]]) -> bytes:
    target = io.BytesIO()
    with TrainingZip(target) as training_zip:
        for extension, data in images:
            training_zip.add(extension, io.BytesIO(data))
    return target.getvalue()


def test_the_zip_holds_the_images_in_source_order_named_by_position(png):
    images = [("png", png(20, 20)), ("jpg", jpeg_bytes()), ("png", png(30, 30))]
    with zipfile.ZipFile(io.BytesIO(build_zip(images))) as archive:
        assert archive.namelist() == ["000.png", "001.jpg", "002.png"]
        assert [archive.read(name) for name in archive.namelist()] == [data for _, data in images]
        # Images are compressed already: stored as they are.
        assert {entry.compress_type for entry in archive.infolist()} == {zipfile.ZIP_STORED}


def test_the_same_images_make_the_same_zip(png):
    images = [("png", png(20, 20)), ("jpg", jpeg_bytes())]
    assert build_zip(images) == build_zip(images)
