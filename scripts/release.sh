#!/usr/bin/env bash
# Cut a release: bump the version, commit "Release X.Y.Z" and tag vX.Y.Z (annotated, with
# the version's CHANGELOG.md section as the tag's message). Nothing is pushed.
#
#   scripts/release.sh [--dry-run] X.Y.Z        (or: make release VERSION=X.Y.Z)
#
# Before anything changes it checks that
#   - X.Y.Z is a plain semantic version (MAJOR.MINOR.PATCH, no leading zeros, no "v") and
#     greater than __version__ in src/__init__.py, and no tag vX.Y.Z exists yet;
#   - the working tree is clean (no staged, unstaged or untracked changes);
#   - CHANGELOG.md has a section "## [X.Y.Z] — YYYY-MM-DD" with at least one line of notes.
# The release notes are written by hand: rename "## [Unreleased]" to the new heading and
# start a fresh empty "## [Unreleased]" above it, commit that, then run this.
# --dry-run does every check and prints the tag message, and changes nothing.
#
# Exit codes: 0 released (or dry run passed), 1 refused or failed, 2 usage.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION_FILE="src/__init__.py"
CHANGELOG="CHANGELOG.md"
SEMVER='^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$'
TMP=""

die() {
    echo "❌ release: $*" >&2
    exit 1
}

usage() {
    echo "usage: scripts/release.sh [--dry-run] X.Y.Z   (make release VERSION=X.Y.Z)" >&2
    [ -n "${1:-}" ] && echo "❌ release: $1" >&2
    exit 2
}

# 0 when $1 > $2, both MAJOR.MINOR.PATCH.
version_greater() {
    local -a new old
    IFS=. read -r -a new <<<"$1"
    IFS=. read -r -a old <<<"$2"
    local i
    for i in 0 1 2; do
        if ((10#${new[i]} != 10#${old[i]})); then
            ((10#${new[i]} > 10#${old[i]}))
            return
        fi
    done
    return 1
}

# The notes of version $1: the lines under its "## [X.Y.Z] — date" heading up to the
# next "## " heading, trimmed of blank lines at both ends. Prints "HEADING<TAB>date"
# first, or "BADHEADING<TAB>line" when the heading exists in another form.
changelog_section() {
    awk -v version="$1" '
        BEGIN { head = "## [" version "]" }
        found && /^## / { exit }
        found { lines[++n] = $0; next }
        index($0, head) == 1 {
            rest = substr($0, length(head) + 1)
            if (rest ~ /^ (—|-) [0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9][ \t]*$/) {
                found = 1
                sub(/^ (—|-) /, "", rest)
                sub(/[ \t]+$/, "", rest)
                print "HEADING\t" rest
            } else {
                print "BADHEADING\t" $0
                exit
            }
        }
        END {
            first = 1
            while (first <= n && lines[first] ~ /^[ \t]*$/) first++
            last = n
            while (last >= first && lines[last] ~ /^[ \t]*$/) last--
            for (i = first; i <= last; i++) print lines[i]
        }
    ' "$CHANGELOG"
}

main() {
    local dry_run=0 version=""
    while [ $# -gt 0 ]; do
        case "$1" in
        -n | --dry-run) dry_run=1 ;;
        -h | --help) usage ;;
        -*) usage "unknown option $1" ;;
        *)
            [ -z "$version" ] || usage "one version only"
            version="$1"
            ;;
        esac
        shift
    done
    [ -n "$version" ] || usage "give the version, e.g. make release VERSION=1.2.3"
    [[ "$version" =~ $SEMVER ]] ||
        usage "'$version' is not a semantic version MAJOR.MINOR.PATCH (e.g. 1.2.3, no 'v')"

    cd "$REPO"
    git rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "$REPO is not a git work tree"

    local dirty
    dirty="$(git status --porcelain)"
    if [ -n "$dirty" ]; then
        echo "$dirty" >&2
        die "the working tree is not clean: commit or stash the changes above first"
    fi

    local current
    current="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$VERSION_FILE")"
    [[ "$current" =~ $SEMVER ]] ||
        die "no __version__ = \"X.Y.Z\" line in $VERSION_FILE (found '${current}')"
    version_greater "$version" "$current" ||
        die "$version is not greater than the current version $current ($VERSION_FILE)"
    if git rev-parse -q --verify "refs/tags/v$version" >/dev/null; then
        die "tag v$version already exists"
    fi

    [ -f "$CHANGELOG" ] || die "no $CHANGELOG"
    local section kind heading notes
    section="$(changelog_section "$version")"
    kind="$(head -n 1 <<<"$section" | cut -f 1)"
    heading="$(head -n 1 <<<"$section" | cut -f 2-)"
    notes="$(tail -n +2 <<<"$section")"
    case "$kind" in
    HEADING) ;;
    BADHEADING)
        die "$CHANGELOG: the heading '$heading' must read" \
            "'## [$version] — YYYY-MM-DD'"
        ;;
    *)
        die "$CHANGELOG has no '## [$version] — YYYY-MM-DD' section: move the" \
            "'## [Unreleased]' notes under it (and start a new empty '## [Unreleased]')," \
            "commit, then release"
        ;;
    esac
    local date="$heading"
    [ -n "$(tr -d '[:space:]' <<<"$notes")" ] ||
        die "$CHANGELOG: the section '## [$version] — $date' has no notes"

    local message
    message="$(printf 'PolyFlup %s — %s\n\n%s\n' "$version" "$date" "$notes")"
    if [ "$dry_run" -eq 1 ]; then
        echo "✅ release: checks passed for $version (current $current); the tag would read:"
        echo
        echo "$message"
        return 0
    fi

    TMP="$(mktemp)"
    trap 'rm -f "$TMP"' EXIT
    sed "s/^__version__ = \".*\"$/__version__ = \"$version\"/" "$VERSION_FILE" >"$TMP"
    grep -qx "__version__ = \"$version\"" "$TMP" || die "could not bump $VERSION_FILE"
    cat "$TMP" >"$VERSION_FILE"
    git add -- "$VERSION_FILE"
    git commit --quiet -m "Release $version" -- "$VERSION_FILE"
    printf '%s\n' "$message" >"$TMP"
    # verbatim: the notes' "### Added" lines would otherwise be dropped as comments
    git tag --annotate --cleanup=verbatim --file "$TMP" "v$version" ||
        die "committed 'Release $version' but could not tag it: run" \
            "git tag -a --cleanup=verbatim v$version"
    echo "✅ Released $version ($current → $version): commit $(git rev-parse --short HEAD)," \
        "tag v$version"
    echo "   Publish with: git push --follow-tags"
}

main "$@"
