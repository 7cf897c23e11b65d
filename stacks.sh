# The stacks by name: each one's virtual environment and requirements file. Sourced by setup_env.sh,
# run_tests.sh and demo.sh, so that the map is written once.
STACK_NAMES="tf2 tf1 tf2-horovod"

stack_venv() {  # stack_venv NAME -> its virtual environment's folder (fails for an unknown name)
  case "$1" in
    tf2) echo .venv ;;
    tf1) echo .venv-tf1 ;;
    tf2-horovod) echo .venv-tf2-horovod ;;
    *) return 1 ;;
  esac
}

stack_requirements() {  # stack_requirements NAME -> its requirements file
  case "$1" in
    tf2) echo requirements.txt ;;
    tf1) echo requirements-tf1.txt ;;
    tf2-horovod) echo requirements-tf2-horovod.txt ;;
    *) return 1 ;;
  esac
}
