#!/usr/bin/env python3
"""Usage: python3 check.py URL SDL_PATH   (needs graphql-core, see requirements.txt)

For each case: build the introspection query with graphql-core's get_introspection_query(...),
POST it as JSON, require a response without `errors`, rebuild the schema with build_client_schema
and compare print_schema of it with print_schema(build_schema(SDL)). Exits 1 if any case fails.
"""
import json
import sys
import urllib.error
import urllib.request

import graphql
from graphql import build_client_schema, build_schema, get_introspection_query, print_schema

# Every option the GraphQL specification defines that graphql-core 3.3 supports;
# type_depth and experimental_directive_deprecation are left at their defaults.
ALL_SPEC_OPTIONS = dict(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
    one_of=True,
)

CASES = [
    (f"graphql-core {graphql.version}, no options", {}),
    (f"graphql-core {graphql.version}, all spec options", ALL_SPEC_OPTIONS),
]


def post(url, query):
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, body = err.code, err.read()
    try:
        return status, json.loads(body)
    except ValueError:
        raise AssertionError(f"HTTP {status}, not JSON: {body[:300]!r}")


def diff(expected, actual):
    """The differing lines (after the common prefix and suffix), at most 8 of each side:
    "-" is the SDL, "+" is the introspection result."""
    e, a = expected.split("\n"), actual.split("\n")
    i = 0
    while i < len(e) and i < len(a) and e[i] == a[i]:
        i += 1
    k = 0
    while k < len(e) - i and k < len(a) - i and e[-1 - k] == a[-1 - k]:
        k += 1
    out = [f"  first difference at line {i + 1}:"]
    out += [f"    {line}" for line in e[max(0, i - 3) : i]]
    out += [f"  - {line}" for line in e[i : len(e) - k][:8]]
    out += [f"  + {line}" for line in a[i : len(a) - k][:8]]
    return "\n".join(out)


def run_case(url, sdl, sdl_path, options):
    status, result = post(url, get_introspection_query(**options))
    if result.get("errors"):
        raise AssertionError(f"HTTP {status}, errors: {json.dumps(result['errors'])}")
    data = result.get("data")
    if not data or "__schema" not in data:
        raise AssertionError(f"HTTP {status}, no data.__schema: {json.dumps(result)[:300]}")
    actual = print_schema(build_client_schema(data))
    expected = print_schema(build_schema(sdl))
    if actual != expected:
        raise AssertionError(f"introspected schema differs from {sdl_path}\n{diff(expected, actual)}")


def main():
    if len(sys.argv) != 3:
        print("usage: python3 check.py URL SDL_PATH", file=sys.stderr)
        return 2
    if graphql.version_info < (3, 3):
        print(f"graphql-core {graphql.version} is too old: pip install -r requirements.txt", file=sys.stderr)
        return 2
    url, sdl_path = sys.argv[1:]
    with open(sdl_path, encoding="utf-8") as f:
        sdl = f.read()
    failed = 0
    for name, options in CASES:
        try:
            run_case(url, sdl, sdl_path, options)
            print(f"ok    {name}")
        except Exception as err:  # noqa: BLE001 - report every failure the same way
            failed += 1
            print(f"FAIL  {name}: {err}")
    if failed:
        print(f"{failed} of {len(CASES)} introspection cases failed against {url}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
