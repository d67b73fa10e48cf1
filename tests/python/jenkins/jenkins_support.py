"""Names the Jenkins tests share (conftest modules are not importable by name)."""

from datetime import datetime, timezone

USER, TOKEN, PASSWORD = "ci", "11f0c3e2b7a94d5e8f61a2b3c4d5e6f7a8", "ci-password"
VIEWER, VIEWER_TOKEN = "viewer", "1100aa11bb22cc33dd44ee55ff66aa77bb"
BUILT = datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc)


def build_url(jd, number, job="team/app"):
    return jd.url + "".join(f"job/{p}/" for p in job.split("/")) + f"{number}/"
