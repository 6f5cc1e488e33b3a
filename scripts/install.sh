# Sourced by demo.sh and test.sh: install rsu, its SDK and the built-in plugins (editable) into .venv.
# $1: extras of rsu to install (e.g. "dev"), optional.
extras="${1:-}"
plugin_args=()
for dir in plugins/*/; do
  [ -f "$dir/pyproject.toml" ] && plugin_args+=(-e "$dir")
done
target="."
[ -n "$extras" ] && target=".[$extras]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ./sdk -e "$target" "${plugin_args[@]}"
