# The flakehound GitHub Action. GitHub runs it as root with the workspace mounted at
# /github/workspace and that folder as the working directory, so there is no USER and no WORKDIR.
FROM python:3.12-slim

# git: changed-line coverage diffs against the pull request's base. The workspace is owned by the
# runner's user, not root, so git must be told it is safe. faketime: libfaketime, for the clock
# experiment (the test run at a year end and on a leap day).
RUN apt-get update \
    && apt-get install --yes --no-install-recommends git faketime \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory /github/workspace

COPY . /opt/flakehound
# The same install command as the README's.
RUN cd /opt/flakehound && pip install --no-cache-dir . && rm -rf /opt/flakehound

ENTRYPOINT ["flakehound", "action"]
