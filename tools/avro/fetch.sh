#!/usr/bin/env bash
# Fetch Apache Avro's Java jars into tools/avro/target/lib and compile DecodeFrames.java into
# tools/avro/target/classes, for the contract tests that decode published values with an Avro
# implementation that is not ours.
#
# Idempotent: if the stamp says the jars of the current pom.xml and the class of the current source are
# there, it does nothing (~10 ms). Otherwise `mvn package`, offline first (works once ~/.m2 holds the
# artifacts), then online; then javac. Extra arguments go to Maven. Prints one line; exits non-zero with a
# clear message if Java or Maven cannot deliver.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="$here/target"
lib="$target/lib"
classes="$target/classes"
stamp="$target/lib.stamp"
log="$target/fetch.log"

fail() {
    echo "avro-java: ERROR: $*" >&2
    exit 1
}

command -v java >/dev/null 2>&1 || fail "no Java found (need Java 17+ on PATH) to run Apache Avro's Java decoder"
command -v javac >/dev/null 2>&1 || fail "no javac found (need a Java 17+ JDK) to compile tools/avro/DecodeFrames.java"

want="$(cat "$here/pom.xml" "$here/DecodeFrames.java" | sha256sum | cut -d' ' -f1)"

up_to_date() {
    [[ -f "$stamp" ]] && [[ "$(head -n 1 "$stamp")" == "$want" ]] || return 1
    [[ -f "$classes/DecodeFrames.class" ]] || return 1
    compgen -G "$lib/avro-*.jar" >/dev/null || return 1
    local jar
    while IFS= read -r jar; do
        [[ -f "$lib/$jar" ]] || return 1
    done < <(tail -n +2 "$stamp")
}

if up_to_date; then
    echo "avro-java: up to date in $target"
    exit 0
fi

mkdir -p "$target"
exec 9>"$target/.fetch.lock"
command -v flock >/dev/null 2>&1 && flock 9
if up_to_date; then
    echo "avro-java: up to date in $target"
    exit 0
fi

command -v mvn >/dev/null 2>&1 || fail "Maven (mvn) is not installed; it is needed once to fetch org.apache.avro:avro"

rm -rf "$lib" "$classes" "$stamp"
start=$SECONDS
: >"$log"
if ! mvn -B -o -Dstyle.color=never -f "$here/pom.xml" package "$@" >>"$log" 2>&1; then
    rm -rf "$lib"
    : >"$log"
    if ! mvn -B -Dstyle.color=never -f "$here/pom.xml" package "$@" >>"$log" 2>&1; then
        rm -rf "$lib"
        grep -E '^\[ERROR\] .+' "$log" | head -n 5 >&2 || tail -n 15 "$log" >&2
        fail "Maven could not fetch org.apache.avro:avro and its dependencies (full log: $log)"
    fi
fi
compgen -G "$lib/avro-*.jar" >/dev/null || fail "Maven ran but $lib has no avro jar (log: $log)"
mkdir -p "$classes"
javac -cp "$lib/*" -d "$classes" "$here/DecodeFrames.java" >>"$log" 2>&1 \
    || fail "javac could not compile tools/avro/DecodeFrames.java (log: $log)"
{
    echo "$want"
    (cd "$lib" && ls -1 -- *.jar)
} >"$stamp"
echo "avro-java: fetched $(find "$lib" -name '*.jar' | wc -l) jars and compiled DecodeFrames in $((SECONDS - start))s"
