# Sourced by the project's scripts: where caches live (outside the clone, so repeat runs are fast).
export TGBIND_CACHE="${TGBIND_CACHE:-$HOME/.cache/tgbind}"
export TGBIND_VENV="$TGBIND_CACHE/venv"
export TGBIND_TERRAFORM="$TGBIND_CACHE/bin/terraform-1.0.3"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$TGBIND_CACHE/target}"
export CHECKPOINT_DISABLE=1
# Tests talk to loopback emulators only; never let the AWS SDK probe instance metadata.
export AWS_EC2_METADATA_DISABLED=true
