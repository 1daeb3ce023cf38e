"""Write digest/data/caniemail.json: the part of the caniemail data that `digest check` uses.

The caniemail project (https://www.caniemail.com/, MIT licence) publishes its data in the npm
package `caniemail`. To refresh the subset:

    npm pack caniemail && tar xzf caniemail-*.tgz
    python scripts/caniemail_subset.py package/data/caniemail.json > digest/data/caniemail.json
    cp package/LICENSE digest/data/caniemail-LICENSE
"""

from __future__ import annotations

import json
import sys

# The clients `digest check` reports on: the major ones, each platform's newest test.
CLIENTS = {
    "gmail": ["desktop-webmail", "ios", "android"],
    "outlook": ["windows", "windows-mail", "macos", "outlook-com", "ios", "android"],
    "apple-mail": ["macos", "ios"],
}


def newest(results: dict[str, str]) -> str:
    """The support code of the newest test: y (yes), a (partial), n (no) or u (unknown)."""

    def order(version: str) -> list[int]:
        return [int(p) if p.isdigit() else 0 for p in version.replace("-", ".").split(".")]

    version = max(results, key=order)
    return results[version].strip()[:1] or "u"


def main(path: str) -> None:
    with open(path, encoding="utf-8") as stream:
        source = json.load(stream)
    features = {}
    for feature in source["data"]:
        if not feature["slug"].startswith(("css-", "html-")):
            continue
        support = {}
        for family, platforms in CLIENTS.items():
            for platform in platforms:
                results = feature["stats"].get(family, {}).get(platform)
                if results:
                    support[f"{family}/{platform}"] = newest(results)
        features[feature["slug"]] = {
            "title": feature["title"],
            "url": feature["url"],
            "support": support,
        }
    json.dump(
        {
            "source": "caniemail (https://www.caniemail.com/), MIT licence",
            "last_update_date": source["last_update_date"],
            "clients": {
                f"{f}/{p}": f"{source['nicenames']['family'].get(f, f)} "
                f"({source['nicenames']['platform'].get(p, p)})"
                for f, ps in CLIENTS.items()
                for p in ps
            },
            "features": features,
        },
        sys.stdout,
        indent=0,
        sort_keys=True,
        ensure_ascii=False,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
