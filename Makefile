# claimsweep: two commands do everything on a fresh Debian machine.
#   make demo   install dependencies, build, run a small sweep with identical workers
#   make test   install dependencies, build, run the whole test suite
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

# Debian packages the build and tests need (slurm-wlm and munge: the real-Slurm
# tests start a private single-node cluster, tests/slurm/cluster.sh; the
# GlusterFS, sshfs, sshd and faketime packages: the cluster tests start a
# multi-node one, tests/cluster/cluster.sh; chromium: the report test loads
# `sweep report`'s HTML in a headless browser).
DEB_PACKAGES := cmake g++ make libprotobuf-dev protobuf-compiler libcli11-dev libspdlog-dev \
                libgtest-dev libbenchmark-dev zlib1g-dev libtorch-dev libcpp-httplib-dev pkg-config \
                slurm-wlm munge chromium \
                glusterfs-server glusterfs-client sshfs openssh-server openssh-client faketime \
                iproute2 procps util-linux
# The reference peers the benchmarks compare against.
BENCH_PACKAGES := python3-optuna python3-torch python3-torchvision

.PHONY: all deps bench-deps apt-install build demo test unit bench clean

all: build

# Installs only what is missing; silent when everything is there.
deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(DEB_PACKAGES)"

bench-deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(BENCH_PACKAGES)"

apt-install:
	@missing=$$(for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	sweeps/demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Seconds: the unit tests only.
unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

bench: build bench-deps
	bench/run_claims.sh $(BUILD)
	bench/train_bench.sh $(BUILD)
	bench/idle_gpu.sh $(BUILD)
	bench/summary_bench.sh $(BUILD)
	bench/huge_sweep_bench.sh $(BUILD)
	bench/trial_overhead.sh $(BUILD)

clean:
	rm -rf $(BUILD)
