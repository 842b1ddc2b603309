# The two commands a new user needs:
#   make demo   set everything up, then run the closed loop in the simulator
#   make test   set everything up, then run the test suite
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export MUJOCO_GL ?= egl

.PHONY: setup ros-tools demo test test-fast lint bench clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' Makefile | sed -E 's/:.*## /\t/'

setup:  ## create .venv with every dependency, build gr1_msgs, install the packages
	@scripts/setup.sh

ros-tools: setup  ## ROS 2 CLI tools + robot interfaces from ../shared/vendor, colcon build of ros2_ws into build/
	@scripts/ros_tools.sh

demo: setup  ## closed loop in MuJoCo: bridge + policy on real DDS, frames saved under out/demo
	@$(VENV)/bin/gr1-demo $(DEMO_ARGS)

test: setup  ## lint + the whole test suite (tiny models, loopback-only DDS, real ros2 launch)
	@VENV=$(VENV) PYTEST_ARGS="$(PYTEST_ARGS)" scripts/test.sh

test-fast: setup  ## unit tests of the ROS-free core only
	@$(PY) -m pytest tests/core $(PYTEST_ARGS)

lint:  ## ruff
	@$(VENV)/bin/ruff check .

bench: setup  ## policy-step benchmark (see bench/README.md)
	@$(PY) bench/policy_step.py $(BENCH_ARGS)

clean:  ## remove build outputs (keeps .venv)
	rm -rf build out install log
