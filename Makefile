# The two commands on README's first screen: `make demo` and `make test`. Each sets up what it needs.
.PHONY: demo test lint bootstrap lab-down clean

VENV := .venv/bin
# Test files run in parallel, one file per worker (a file's lab fixtures stay in one process).
TEST_WORKERS ?= 2
export REMEDIATE_HOME ?= $(CURDIR)/.state

bootstrap:
	@scripts/bootstrap.sh

demo:
	@scripts/bootstrap.sh
	@scripts/demo.sh

test:
	@scripts/bootstrap.sh --test
	$(VENV)/ruff check .
	$(VENV)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

lint: test

lab-down:
	@$(VENV)/remediate lab down

clean:
	-@$(VENV)/remediate lab down 2>/dev/null
	rm -rf .state
