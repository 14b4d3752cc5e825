#!/usr/bin/env bash
# The build steps of github-actions.yml and gitlab-ci.yml (one script for both, or for any CI):
# build the project's bundle with a versioned file name and a checksum, verify it, write its
# CycloneDX SBOM, and leave the three files in $DIST for the CI's upload step:
#
#   dist/myapp-1.2.0-cp312-linux_x86_64.pyz
#   dist/myapp-1.2.0-cp312-linux_x86_64.pyz.sha256    (`sha256sum -c` reads it)
#   dist/myapp-1.2.0-cp312-linux_x86_64.cdx.json      (`pybundle info --sbom`)
#
# Environment, all optional:
#   PROJECT        project directory (default `.`); its [tool.pybundle] table supplies the
#                  entry point and any other option
#   NAME           file name template (default `{name}-{version}-{python}-{platform}.pyz`; see
#                  the README for the placeholders)
#   DIST           where the files go (default `dist`)
#   PYBUNDLE       the pybundle command (default `pybundle`; `python -m pybundle` works too)
#   PYBUNDLE_ARGS  more build arguments, split on spaces (`--python python3.12`, or
#                  `--no-index -f wheels` for an offline build)
#   SMOKE_ARGS     when set, the bundle is run once with these arguments (split on spaces)
#   SOURCE_DATE_EPOCH  defaults to the last commit's time in a git checkout, so that `{date}`,
#                  the manifest's `built_at` and the bundle's bytes follow the commit
set -euo pipefail

project=${PROJECT:-.}
dist=${DIST:-dist}
name=${NAME:-}
[ -n "$name" ] || name='{name}-{version}-{python}-{platform}.pyz'
read -r -a pybundle <<<"${PYBUNDLE:-pybundle}"
read -r -a extra <<<"${PYBUNDLE_ARGS:-}"
read -r -a smoke <<<"${SMOKE_ARGS:-}"
if [ -z "${SOURCE_DATE_EPOCH:-}" ] && git -C "$project" rev-parse --git-dir >/dev/null 2>&1; then
  SOURCE_DATE_EPOCH=$(git -C "$project" log -1 --format=%ct)
  export SOURCE_DATE_EPOCH
fi

"${pybundle[@]}" --version

# Build into an empty directory, so the one new bundle is easy to find whatever its name.
stage=$(mktemp -d "${TMPDIR:-/tmp}/pybundle-artifact.XXXXXX")
trap 'rm -rf "$stage"' EXIT
"${pybundle[@]}" "$project" -o "$stage/$name" --checksum ${extra[@]+"${extra[@]}"}
bundle=$(find "$stage" -maxdepth 1 -type f ! -name '*.sha256')
file=$(basename "$bundle")

"${pybundle[@]}" verify "$bundle"
(cd "$stage" && sha256sum -c "$file.sha256")
"${pybundle[@]}" info "$bundle"
"${pybundle[@]}" info --sbom "$bundle" >"$stage/${file%.pyz}.cdx.json"
if [ ${#smoke[@]} -gt 0 ]; then
  "$bundle" "${smoke[@]}"
fi

mkdir -p "$dist"
mv "$stage/$file" "$stage/$file.sha256" "$stage/${file%.pyz}.cdx.json" "$dist/"
echo "artifact: $dist/$file"
# GitHub Actions: later steps can use steps.<id>.outputs.bundle.
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "bundle=$dist/$file" >>"$GITHUB_OUTPUT"
fi
