# 20-frozen under policy = census: the census reads the frozen twin (its
# 16 MiB of equal pages make a plan) and its range injection finds it
# frozen; the twin is shown skipped ("frozen"), censused once, its plan
# advised by a retry once thawed. Before: each retry enrolled it again and
# censused the app again (under load, about every second), status showing
# it "enrolled" while each census ran.
# shellcheck disable=SC2034 # read by 20-frozen.sh, sourced below
FROZEN_POLICY=census
. "$(dirname "$0")/20-frozen.sh"
