# The two commands of the README:
#   make run    set up what is missing, start the local services, run the main job
#   make test   set up what is missing (incl. the test browser), run lint + the whole test suite
.PHONY: setup run test lint down status doctor

setup:
	@scripts/setup.sh

run: setup
	@.venv/bin/lakehouse run

test:
	@scripts/setup.sh --browser
	@scripts/test.sh

lint:
	@.venv/bin/ruff check .

status:
	@.venv/bin/lakehouse services status

down:
	@.venv/bin/lakehouse services down

doctor:
	@.venv/bin/lakehouse doctor
