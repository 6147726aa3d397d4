"""Search finds a message by the names of its files: whole, or by a word of the name.

A file posted without a word of text ("q3-minutes.final.pdf") is found by "minutes",
by its whole name, or by a word of the text sent with it; the hit carries the
attachment objects, so the search dialog can name the file. Members only, as
for every hit; a deleted message's files are never found. The same holds in the
embedded SQLite mode of `make run`, and the migration that indexes names undoes.
"""

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from chat import services
from tests.files.test_attachments import post_with
from tests.support.embedded import run_embedded

pytestmark = [pytest.mark.django_db]


def found(client, q: str) -> list[list[str]]:
    """Each hit's file names, newest first."""
    response = client.get("/api/search", {"q": q})
    assert response.status_code == 200, response.json()
    return [[file["name"] for file in hit["attachments"]] for hit in response.json()["messages"]]


@pytest.fixture
def minutes(people, secret, upload_of):
    """bob posted "Q3-minutes.final.pdf" with no text, and "chart.png" with some."""
    pdf = upload_of(people["bob"], name="Q3-minutes.final.pdf", content_type="application/pdf")
    posted, _ = services.message_post(
        user=people["bob"], room=secret, body="", attachments=[pdf.id]
    )
    from tests.files.conftest import image_bytes

    chart = upload_of(people["bob"], name="chart.png", data=image_bytes("PNG"))
    post_with(people["bob"], secret, [chart])
    return posted


@pytest.mark.parametrize(
    ("q", "names"),
    [
        ("minutes", [["Q3-minutes.final.pdf"]]),
        ("final pdf", [["Q3-minutes.final.pdf"]]),
        ("Q3-minutes.final.pdf", [["Q3-minutes.final.pdf"]]),
        ("chart", [["chart.png"]]),
        ("chart.png", [["chart.png"]]),
        ("attached chart", [["chart.png"]]),  # a word of the text and one of the name
        ("minutes -final", []),
    ],
)
def test_a_file_is_found_by_its_name_or_a_word_of_it(people, bearer, minutes, q, names):
    assert found(bearer(people["mona"]), q) == names


def test_only_members_find_a_file_and_never_once_its_message_is_deleted(people, bearer, minutes):
    assert found(bearer(people["eve"]), "minutes") == []
    services.message_delete(user=people["bob"], message_id=minutes.id)
    assert found(bearer(people["mona"]), "minutes") == []


@pytest.mark.django_db(transaction=True)
def test_the_migration_that_indexes_file_names_undoes_and_redoes(people, bearer, minutes):
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("search", "0001_search_vector")])
        assert found(bearer(people["mona"]), "minutes") == []
        assert found(bearer(people["mona"]), "attached") == [["chart.png"]]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert found(bearer(people["mona"]), "minutes") == [["Q3-minutes.final.pdf"]]


EMBEDDED_SEARCH = """
import json, django
django.setup()
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from chat import selectors, services
from files.services import upload_create
from search.selectors import search
alice = get_user_model().objects.create_user("alice")
services.user_onboard(user=alice)
room = selectors.room_for_user(user=alice, slug="general")
pdf = upload_create(user=alice, uploaded_file=SimpleUploadedFile(
    "Q3-Minutes.pdf", b"%PDF-1.4", content_type="application/pdf"))
services.message_post(user=alice, room=room, body="", attachments=[pdf.id])
services.message_post(user=alice, room=room, body="no files here, see files/")
print(json.dumps({q: [[f["name"] for f in hit["attachments"]] or hit["body"]
                      for hit in search(user=alice, q=q)["messages"]]
                  for q in ("minutes", "q3-minutes.pdf", "files", "MINUTES -q3")}))
"""


def test_the_embedded_sqlite_mode_finds_files_by_name_too(tmp_path):
    result = run_embedded(
        EMBEDDED_SEARCH,
        DATABASE_URL=f"sqlite:///{tmp_path / 'embedded.db'}",
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "minutes": [["Q3-Minutes.pdf"]],
        "q3-minutes.pdf": [["Q3-Minutes.pdf"]],
        # A name, not the attachment's URL or type: "files" is only in the text.
        "files": ["no files here, see files/"],
        "MINUTES -q3": [],
    }
