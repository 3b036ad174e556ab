#!/bin/sh
# tests/bench/s3_bucket.sh — the s3 target on a bucket of BENCH_OBJECTS
# objects of BENCH_SIZE bytes (defaults 2000 x 100000) on s3rver over
# loopback, against `aws s3 sync` (awscli) and `rclone sync` (rclone) to a
# local dir, all in the same run on the same data (times with GNU time):
#  - a first backup, an unchanged re-run, peak RSS;
#  - restore into a new bucket, against `aws s3 sync DIR s3://new`.
# Not part of `make check`; awscli and rclone are needed here only (Debian:
# apt-get install awscli rclone), a missing one is left out.
#
#   tests/bench/s3_bucket.sh BUILDDIR   (BENCH_OBJECTS=N BENCH_SIZE=BYTES)
. "$(dirname "$0")/../lib/bench_env.sh"
. "$(dirname "$0")/../lib/common.sh"
. "$ARCA_SRCDIR/tests/lib/s3.sh"
N=${BENCH_OBJECTS:-2000}
SIZE=${BENCH_SIZE:-100000}
[ -x /usr/bin/time ] || skip "/usr/bin/time (GNU time) is needed for peak RSS"
mkdir -p "$T/m"
run() {
	name=$1; shift
	/usr/bin/time -f '%e %M' -o "$T/m/$name" "$@" > "$T/m/$name.out" 2>&1 ||
		{ tail -20 "$T/m/$name.out" >&2; fail "$name: $*"; }
}
secs() { cut -d' ' -f1 "$T/m/$1"; }
rss() { awk '{ printf "%.0f", $2 / 1024 }' "$T/m/$1"; }
ratio() { awk -v a="$(secs "$1")" -v b="$(secs "$2")" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }'; }

s3_start media arcanew awsnew
i=0
while [ $i -lt "$N" ]; do
	printf 'media/%03d/obj %d.jpg\t%d\t%d\tContent-Type: image/jpeg\tx-amz-meta-n: %d\n' \
		$((i % 100)) $i "$SIZE" $i $i
	i=$((i + 1))
done > "$T/spec"
echo "putting $N objects of $SIZE bytes..."
python3 "$ARCA_SRCDIR/tests/s3_objects.py" put "$S3_PORT" media "$T/spec" || fail "put"
printf 'S3RVER\n' > "$T/s3.secret"
write_engine_config
cat >> "$ARCA_CONFIG" <<EOC

[target media]
driver = s3
endpoint = $S3_ENDPOINT
bucket = media
access_key_id = S3RVER
secret_access_key_file = $T/s3.secret
destinations = local
EOC
export ARCA_TEST_FAST_KDF=1
arca init > "$T/init.log" 2>&1 || { cat "$T/init.log"; fail "init"; }
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
export RCLONE_CONFIG_S3_TYPE=s3 RCLONE_CONFIG_S3_PROVIDER=Other RCLONE_CONFIG_S3_ENDPOINT=$S3_ENDPOINT
export RCLONE_CONFIG_S3_ACCESS_KEY_ID=S3RVER RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=S3RVER

run arca "$ARCA" snapshot media
run arca2 "$ARCA" snapshot media
run arcarest "$ARCA" restore media --into s3://arcanew
have_aws=0 have_rclone=0
if command -v aws > /dev/null; then
	have_aws=1
	run aws aws --endpoint-url "$S3_ENDPOINT" s3 sync --quiet s3://media "$T/aws"
	run aws2 aws --endpoint-url "$S3_ENDPOINT" s3 sync --quiet s3://media "$T/aws"
	got=$(find "$T/aws" -type f | wc -l)
	[ "$got" -eq "$N" ] || fail "aws copied $got of $N objects"
	run awsrest aws --endpoint-url "$S3_ENDPOINT" s3 sync --quiet "$T/aws" s3://awsnew
fi
if command -v rclone > /dev/null; then
	have_rclone=1
	# an AWS_CA_BUNDLE of the environment breaks rclone on plain http
	run rclone env -u AWS_CA_BUNDLE rclone -v sync s3:media "$T/rclone"
	run rclone2 env -u AWS_CA_BUNDLE rclone sync s3:media "$T/rclone"
	got=$(find "$T/rclone" -type f | wc -l)
	# rclone 1.60 (Debian 12) lists this s3rver (started with --service-endpoint)
	# as empty here: then its times mean nothing and are not compared
	[ "$got" -eq "$N" ] || { echo "rclone copied $got of $N objects: not compared"; have_rclone=0; }
fi
echo "bucket of $N objects x $SIZE bytes on s3rver (loopback)"
printf '  %-34s %8s s  peak RSS %5s MiB\n' "arca snapshot (first)" "$(secs arca)" "$(rss arca)"
printf '  %-34s %8s s  peak RSS %5s MiB\n' "arca snapshot (unchanged)" "$(secs arca2)" "$(rss arca2)"
printf '  %-34s %8s s  peak RSS %5s MiB\n' "arca restore --into new bucket" "$(secs arcarest)" "$(rss arcarest)"
if [ $have_aws = 1 ]; then
	printf '  %-34s %8s s  (arca %sx faster)\n' "aws s3 sync to dir" "$(secs aws)" "$(ratio arca aws)"
	printf '  %-34s %8s s  (arca %sx faster)\n' "aws s3 sync (unchanged)" "$(secs aws2)" "$(ratio arca2 aws2)"
	printf '  %-34s %8s s  (arca %sx faster)\n' "aws s3 sync dir to new bucket" "$(secs awsrest)" "$(ratio arcarest awsrest)"
fi
if [ $have_rclone = 1 ]; then
	printf '  %-34s %8s s  (arca %sx faster)\n' "rclone sync to dir" "$(secs rclone)" "$(ratio arca rclone)"
	printf '  %-34s %8s s  (arca %sx faster)\n' "rclone sync (unchanged)" "$(secs rclone2)" "$(ratio arca2 rclone2)"
fi
pass
