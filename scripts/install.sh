# Sourced by demo.sh and test.sh: install rsu, its SDK and the built-in plugins (editable) into .venv.
# $1: extras of rsu to install (e.g. "dev"), optional; $2: the venv (default .venv); $3: a pip constraints file.
# The pip log goes to var/install-<venv>.log.
extras="${1:-}"
venv="${2:-.venv}"
constraints="${3:-}"
plugin_args=()
plugins=0
for dir in plugins/*/; do
  [ -f "$dir/pyproject.toml" ] && plugin_args+=(-e "$dir") && plugins=$((plugins + 1))
done
target="."
[ -n "$extras" ] && target=".[$extras]"
log="var/install-${venv#.}.log"
mkdir -p var
echo "installing rsu${extras:+[$extras]}, rsu-sdk and $plugins plugins into $venv (log: $log)"
if ! "$venv/bin/python" -m pip install --disable-pip-version-check ${constraints:+-c "$constraints"} \
    -e ./sdk -e "$target" "${plugin_args[@]}" > "$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "install failed; see $log" >&2
  exit 1
fi
