#!/usr/bin/env bash
# dev-ctl.sh: docker compose for this project, with a guard against losing data (DATA-001).
#
#   ./dev-ctl.sh ps | logs -f backend-api | up -d | down ...   base + prod (COMPOSE_FILE in .env)
#   ./dev-ctl.sh --dev up                                      base + dev, on a developer's machine
#
# Every spelling that removes volumes (down -v, --volumes, --volumes=true|1|t|T|TRUE|True, -v=true,
# combined short flags such as -fv, rm -v) needs the project's name typed at a terminal, and is
# refused without one.
# The state volumes are external, so compose keeps them anyway; the guard also protects the
# anonymous ones, and habits.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(sed -n "s/^COMPOSE_PROJECT_NAME='\(.*\)'$/\1/p" "$here/.env" 2>/dev/null || true)"
project="${project:-$(basename "$here")}"

compose=(docker compose --project-directory "$here")
if [[ "${1:-}" == "--dev" ]]; then
  shift
  # The development files, as the role's plan names them in .env (base + dev).
  dev_files="$(sed -n "s/^ANTONE_DEV_COMPOSE_FILE='\(.*\)'$/\1/p" "$here/.env" 2>/dev/null || true)"
  if [[ -z "$dev_files" ]]; then
    echo "dev-ctl.sh --dev: $here/.env names no ANTONE_DEV_COMPOSE_FILE; run the stack role to write it" >&2
    exit 2
  fi
  IFS=: read -ra dev_files <<< "$dev_files"
  for file in "${dev_files[@]}"; do
    compose+=(-f "$here/$file")
  done
fi

# Compose's global options that take a value, to find the subcommand after them.
takes_value=" -f --file -p --project-name --profile --env-file --project-directory --ansi --progress --parallel "

subcommand=""
rest=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  arg="${args[i]}"
  if [[ "$arg" != -* ]]; then
    subcommand="$arg"
    rest=("${args[@]:i+1}")
    break
  fi
  if [[ "$takes_value" == *" $arg "* ]]; then
    i=$((i + 1))
  fi
done

# A boolean flag's value as Docker's flag parser (pflag, strconv.ParseBool) reads it: only these
# spellings are false; anything else given to -v or --volumes is treated as removing volumes.
is_false() {
  case "$1" in
    0 | f | F | false | FALSE | False) return 0 ;;
    *) return 1 ;;
  esac
}

removes_volumes() {
  local arg
  for arg in "$@"; do
    case "$arg" in
      --) return 1 ;;
      --volumes) return 0 ;;
      --volumes=*) is_false "${arg#--volumes=}" || return 0 ;;
      -v=*) is_false "${arg#-v=}" || return 0 ;;
      --*) ;;
      -*v*) return 0 ;;  # -v and combined short flags: -fv, -sv, -vf, -fsv
    esac
  done
  return 1
}

if [[ "$subcommand" == "down" || "$subcommand" == "rm" ]] && removes_volumes "${rest[@]}"; then
  echo "DANGER: '$subcommand ${rest[*]}' removes volumes of the $project stack, with the data in them." >&2
  if [[ ! -t 0 ]]; then
    echo "Refused: no terminal to confirm on. Run it by hand, at a terminal." >&2
    exit 2
  fi
  read -r -p "Type the project name ($project) to go on: " reply
  if [[ "$reply" != "$project" ]]; then
    echo "Aborted: nothing was removed." >&2
    exit 1
  fi
fi

exec "${compose[@]}" "$@"
