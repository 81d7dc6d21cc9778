"""The repository documents itself: a plain clone's README and docs/ are all a newcomer needs."""
import re
from pathlib import Path

from sqlalchemy import select

from app import db, devserver
from app.accounts.models import User

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _seeded_users(app) -> list[User]:
    with app.app_context():
        users = list(db.session.scalars(select(User).order_by(User.id)))
        db.session.remove()
    return users


def test_readme_and_docs_point_at_nothing_outside_the_repository():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        assert "../shared" not in path.read_text(encoding="utf-8"), path


def test_readme_starts_with_the_two_set_up_commands():
    body = README.split("\n", 1)[1].lstrip("\n")
    assert body.startswith("```"), "the README opens with the set-up commands"
    block = body.split("```")[1]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]


def test_readme_links_only_docs_that_exist():
    linked = set(re.findall(r"\]\((docs/[^)#\s]+\.md)", README))
    assert {"docs/architecture.md", "docs/api.md", "docs/operations.md"} <= linked
    for link in linked:
        assert (ROOT / link).is_file(), link


def test_readme_lists_every_login_the_demo_seed_creates(app, demo):
    users = _seeded_users(app)
    assert len([u for u in users if u.openid]) >= 11
    for user in users:
        if user.openid:
            assert f"`{user.openid}`" in README, user.openid
        else:  # pre-registered, bound with a phone code
            assert f"sandbox-phone:{user.phone}" in README, user.phone


def test_devserver_banner_lists_every_login_the_demo_seed_creates(app, demo):
    users = _seeded_users(app)
    with app.app_context():
        lines = "\n".join(devserver.login_lines(db.session))
        db.session.remove()
    for user in users:
        if user.openid:
            assert f"sandbox:{user.openid} " in lines and user.unit.name in lines, user.openid
        else:
            assert f"sandbox-phone:{user.phone}" in lines, user.phone
