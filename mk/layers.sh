#!/usr/bin/env bash
# mk/layers.sh [BROKER-DIR]: the include rule of broker/, read from the
# sources (make layers; make test runs it).
#
# The layers, bottom to top: base io session deliver handle doors. A file
# of broker/<layer>/ may include only headers of its own folder or of a
# lower one, and broker/broker.h (the two structs) unless it is in base/.
# base/ includes no loop, database or bus header (libwebsockets.h,
# libpq-fe.h, zmq.h, ev.h) and no broker.h; ctl/ (tocsinctl) includes only
# ctl/, base/ and adapters/lib/. Every .c and .h of broker/ is in one of
# these folders. Also: every name a file of a layer exports starts with
# the file's name (journal.c exports journal_*), checked on the objects
# when BUILD-DIR/obj exists (MK_LAYERS_OBJ, default build/obj).
#
# Prints one line per breach (file:line: what, and the rule) and exits 1
# on any; prints "layers: ..." and exits 0 when all hold.
set -u -o pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
broker="${1:-$root/broker}"
objdir="${MK_LAYERS_OBJ:-$root/build/obj}"
layers=(base io session deliver handle doors)
breaches=0

rank() {
    local i
    for i in "${!layers[@]}"; do
        [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }
    done
    echo -1
}

breach() {
    echo "$1"
    breaches=$((breaches + 1))
}

# Where a quoted include resolves: the including file's folder first, then
# the folders of the broker, then adapters/lib (as the compiler's -I order
# would find a unique name). Prints the folder name (base, io, ..., ctl,
# "top" for broker/ itself, "adapters" for adapters/lib) or nothing.
resolve() {
    local from_dir="$1" name="$2" d
    if [ -f "$from_dir/$name" ]; then
        basename "$from_dir"
        return
    fi
    for d in "${layers[@]}" ctl; do
        [ -f "$broker/$d/$name" ] && { echo "$d"; return; }
    done
    [ -f "$broker/$name" ] && { echo top; return; }
    [ -f "$root/adapters/lib/$name" ] && { echo adapters; return; }
}

shopt -s nullglob
for f in "$broker"/*.c "$broker"/*.h; do
    [ "$(basename "$f")" = broker.h ] && continue
    breach "${f#"$root"/}: a source outside the layer folders (${layers[*]} ctl)"
done

for dir in "$broker"/*/; do
    layer=$(basename "$dir")
    own=$(rank "$layer")
    if [ "$own" -lt 0 ] && [ "$layer" != ctl ]; then
        breach "${dir#"$root"/}: not a layer (${layers[*]} ctl)"
        continue
    fi
    for f in "$dir"*.c "$dir"*.h; do
        rel="${f#"$root"/}"
        while IFS=: read -r line text; do
            if [[ "$text" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]; then
                name="${BASH_REMATCH[1]}"
                where=$(resolve "$dir" "$name")
                if [ -z "$where" ]; then
                    breach "$rel:$line: includes \"$name\", found in no folder of the broker"
                elif [ "$layer" = ctl ]; then
                    case "$where" in
                        ctl|base|adapters) ;;
                        *) breach "$rel:$line: includes $name of broker/$where/: tocsinctl uses only ctl/, base/ and adapters/lib/" ;;
                    esac
                elif [ "$where" = top ]; then
                    [ "$layer" = base ] &&
                        breach "$rel:$line: includes broker.h: base/ is pure and knows no broker"
                elif [ "$where" = ctl ] || [ "$where" = adapters ]; then
                    breach "$rel:$line: includes $name of $where: the broker does not use tocsinctl's or the adapters' code"
                elif [ "$(rank "$where")" -gt "$own" ]; then
                    breach "$rel:$line: includes $name of broker/$where/, above $layer/: a layer includes only its own folder and those below (${layers[*]})"
                fi
            elif [ "$layer" = base ] &&
                 [[ "$text" =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<(libwebsockets\.h|libpq-fe\.h|zmq\.h|ev\.h)\> ]]; then
                breach "$rel:$line: includes <${BASH_REMATCH[1]}>: base/ is pure (no loop, no database, no bus)"
            fi
        done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$f")
    done
done

# Exported names start with their file's name: read from the objects.
names=0
if [ -d "$objdir" ]; then
    for o in "$objdir"/*/*.o; do
        file=$(basename "$o" .o)
        layer=$(basename "$(dirname "$o")")
        [ -f "$broker/$layer/$file.c" ] || continue # stale: its source is gone
        while read -r sym; do
            names=$((names + 1))
            case "$sym" in
                "$file"|"$file"_*) ;;
                main) [ "$file" = main ] || [ "$file" = tocsinctl ] ||
                          breach "broker/$layer/$file.c: defines main" ;;
                *) breach "broker/$layer/$file.c: exports $sym: an exported name starts with its file's name ($file or ${file}_...)" ;;
            esac
        done < <(nm --defined-only -g "$o" | awk '{print $3}')
    done
fi

if [ "$breaches" -gt 0 ]; then
    echo "layers: $breaches breach(es) of the layers' rules"
    exit 1
fi
echo "layers: every include of broker/ goes to its own folder or below; $names exported names prefixed by their file"
