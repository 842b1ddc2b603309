# Sourced by the long training recipes (scripts/train_colour_suite.sh,
# research/finetune_camera_shift.sh), whose settings are environment variables:
# `recipe_args "$0" "$@"` prints the script's header comment for --help and refuses any argument.
recipe_args() {  # script path, then its arguments
    case "${2:-}" in
        -h|--help) sed -n '2,/^source /p' "$1" | sed '$d' | sed -E 's/^# ?//'; exit 0 ;;
        "") ;;
        *) echo "$(basename "$1"): no arguments (settings are environment variables; see --help)" >&2
           exit 2 ;;
    esac
}
