#!/usr/bin/env bash
# tests/check_layers.sh - the folders of core/ depend only downward. Each folder may
# include headers of the folders listed after it (and its own, wa/, the SDK and system
# headers); anything else is a layering fault, printed with file:line. Run by ctest
# (label unit). Order, top to bottom:
#   app (core/*.c) > admin > engine > plugins > webhooks > instances > http > bus > wa > base
set -uo pipefail
cd "$(dirname "$0")/.."
declare -A ALLOW=(
  [base]="base"
  [wa]="wa base"
  [bus]="bus base"
  [http]="http bus base"
  [instances]="instances http bus base"
  [webhooks]="webhooks instances http bus base"
  [plugins]="plugins instances http bus wa base"
  [engine]="engine plugins instances http bus wa base"
  [admin]="admin http base"
)
bad=0
checked=0
for dir in "${!ALLOW[@]}"; do
  for f in core/$dir/*.[ch]; do
    [ -e "$f" ] || continue
    checked=$((checked + 1))
    while IFS=: read -r line inc; do
      top=${inc%%/*}
      if [ "$top" = miaw ]; then # the SDK: status codes anywhere, the whole ABI from bus up
        [ "$inc" = miaw/status.h ] && continue
        case "$dir" in base|wa) echo "$f:$line: core/$dir must not include \"$inc\" (only miaw/status.h)"; bad=1 ;; esac
        continue
      fi
      [ "$top" = "$inc" ] && { # a bare "x.h": only generated protobuf headers and wa's own
        case "$inc" in *.pb-c.h) continue ;; esac
        [ "$dir" = wa ] && continue
        echo "$f:$line: includes \"$inc\" without its folder"; bad=1; continue; }
      case " ${ALLOW[$dir]} " in *" $top "*) ;; *) echo "$f:$line: core/$dir must not include \"$inc\" (layer order: see tests/check_layers.sh)"; bad=1 ;; esac
    done < <(grep -nE '^#include ("[^"]+"|<miaw/[^>]+>)' "$f" | sed -E 's/^([0-9]+):#include ["<]([^">]+)[">].*/\1:\2/')
  done
done
echo "layers: $checked files checked"
[ $bad -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $bad
