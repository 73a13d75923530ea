"""Unit tests for the test bed's pure helpers (no engine needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

import testbed


def test_recipe_hash_is_stable_and_sensitive() -> None:
    assert testbed.recipe_hash("a", "b") == testbed.recipe_hash("a", "b")
    assert testbed.recipe_hash("a", "b") != testbed.recipe_hash("a", "c")
    # parts are delimited: moving a character between parts changes the hash
    assert testbed.recipe_hash("ab", "c") != testbed.recipe_hash("a", "bc")


def test_tree_digest_follows_content(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    first = testbed.tree_digest(tmp_path)
    assert testbed.tree_digest(tmp_path) == first
    (tmp_path / "Dockerfile").write_text("FROM y\n")
    assert testbed.tree_digest(tmp_path) != first
    (tmp_path / "extra.sh").write_text("true\n")
    assert len(testbed.tree_digest(tmp_path)) == 2


@pytest.mark.parametrize(
    ("dockerfile", "parents"),
    [
        ("FROM antone-testhost:debian13\nRUN true\n", ("antone-testhost:debian13",)),
        ("FROM a:1 AS build\nFROM scratch\nCOPY --from=build / /\n", ("a:1",)),
        ("FROM --platform=linux/amd64 a:1 AS one\nFROM one\nFROM b:2\n", ("a:1", "b:2")),
        ("# FROM commented:out\nfrom lower:case\n", ("lower:case",)),
    ],
)
def test_parse_from_lines(dockerfile: str, parents: tuple[str, ...]) -> None:
    assert testbed.parse_from_lines(dockerfile) == parents


def test_archive_path_names_the_archive() -> None:
    assert testbed.archive_path("busybox").name == "busybox.tar"


@pytest.mark.parametrize(
    ("option", "expected"), [(True, ("busybox",)), (False, ()), ("", ()), ("stack", ("stack",)),
                             (["stack", "seed002"], ("stack", "seed002"))]
)
def test_archive_names(option: bool | str | list[str], expected: tuple[str, ...]) -> None:
    assert testbed.archive_names(option, "busybox") == expected


@pytest.mark.parametrize("option", ["../up", "Stack Images", 3, [], ["ok", "../up"]])
def test_archive_names_refuse_a_path_or_other_types(option: object) -> None:
    with pytest.raises(ValueError, match="archive must be"):
        testbed.archive_names(option, "busybox")  # type: ignore[arg-type]


def test_archive_groups_bundle_images_that_share_a_name(tmp_path: Path) -> None:
    images = [
        testbed.DerivedImage("a:1", tmp_path, archives=("stack",)),
        testbed.DerivedImage("b:1", tmp_path, archives=("stack", "c")),
        testbed.DerivedImage("c:1", tmp_path, archives=("c",)),
        testbed.DerivedImage("d:1", tmp_path),
    ]
    groups = testbed.archive_groups(images)
    assert {k: [i.name for i in v] for k, v in groups.items()} == {"stack": ["a:1", "b:1"], "c": ["b:1", "c:1"]}


def test_host_recipes_differ_by_suite() -> None:
    recipes = {host.recipe() for host in testbed.HOSTS}
    assert len(recipes) == len(testbed.HOSTS)


def test_every_derived_image_has_a_known_parent() -> None:
    known = {host.name for host in testbed.HOSTS} | {image.name for image in testbed.derived_images()}
    for image in testbed.derived_images():
        assert set(image.parents) <= known, image.name
