#!/usr/bin/env bash
# Fetch the jars of the test-only Apache Kafka broker into tools/kafka/target/lib.
#
# Idempotent: if target/lib holds the jars resolved from the current pom.xml (stamp file), it does
# nothing. Otherwise it runs `mvn package` on tools/kafka/pom.xml, offline first (works once ~/.m2 holds
# the artifacts), then online. Extra arguments go to Maven, e.g. `fetch.sh -Dmaven.repo.local=/tmp/m2`.
# Prints one line; exits non-zero with a clear message if Maven cannot deliver.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="$here/target"
lib="$target/lib"
stamp="$target/lib.stamp"
log="$target/fetch.log"

fail() {
    echo "kafka-broker: ERROR: $*" >&2
    exit 1
}

command -v java >/dev/null 2>&1 || [[ -x "${JAVA_HOME:-/nonexistent}/bin/java" ]] \
    || fail "no Java found (need Java 17+ on PATH or in JAVA_HOME) to run the Kafka broker"

# Stamp = hash of pom.xml (a version bump in the pom re-fetches), then the name of every jar fetched
# (a jar gone missing re-fetches).
want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"

have_jars() {
    [[ -f "$stamp" ]] && [[ "$(head -n 1 "$stamp")" == "$want" ]] || return 1
    compgen -G "$lib/kafka_2.13-*.jar" >/dev/null || return 1
    local jar
    while IFS= read -r jar; do
        [[ -f "$lib/$jar" ]] || return 1
    done < <(tail -n +2 "$stamp")
}

if have_jars; then
    echo "kafka-broker: jars up to date in $lib ($(find "$lib" -name '*.jar' | wc -l) jars)"
    exit 0
fi

mkdir -p "$target"
# Serialize concurrent fetches (e.g. parallel pytest workers).
exec 9>"$target/.fetch.lock"
command -v flock >/dev/null 2>&1 && flock 9
if have_jars; then
    echo "kafka-broker: jars up to date in $lib ($(find "$lib" -name '*.jar' | wc -l) jars)"
    exit 0
fi

command -v mvn >/dev/null 2>&1 || fail "Maven (mvn) is not installed; it is needed once to fetch the Kafka broker jars"

rm -rf "$lib" "$stamp"
start=$SECONDS
: >"$log"
if ! mvn -B -o -Dstyle.color=never -f "$here/pom.xml" package "$@" >>"$log" 2>&1; then
    # Offline failed (cold ~/.m2): fetch from the registry. The log keeps only this attempt.
    rm -rf "$lib"
    : >"$log"
    if ! mvn -B -Dstyle.color=never -f "$here/pom.xml" package "$@" >>"$log" 2>&1; then
        rm -rf "$lib"
        grep -E '^\[ERROR\] .+' "$log" | head -n 5 >&2 || tail -n 15 "$log" >&2
        fail "Maven could not fetch org.apache.kafka:kafka_2.13 and its dependencies (full log: $log)"
    fi
fi

compgen -G "$lib/kafka_2.13-*.jar" >/dev/null || fail "Maven ran but $lib has no kafka_2.13 jar (log: $log)"
{
    echo "$want"
    (cd "$lib" && ls -1 -- *.jar)
} >"$stamp"
kafka_jar="$(basename "$(compgen -G "$lib/kafka_2.13-*.jar" | head -n 1)" .jar)"
echo "kafka-broker: fetched $(find "$lib" -name '*.jar' | wc -l) jars ($kafka_jar) into $lib in $((SECONDS - start))s"
