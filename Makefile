# libdistill — see README.md.  `make`, `make check`, `make demo`, `make bench`,
# `make install PREFIX=... DESTDIR=...`, `make abi-check`, `make check SANITIZE=1`.

VERSION := $(shell sed -n 's/^\#define DISTILL_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' include/distill/version.h | paste -sd.)
MAJOR   := $(word 1,$(subst ., ,$(VERSION)))

PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
BINDIR       ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

CC      ?= cc
PYTHON  ?= /usr/bin/python3
OPT     ?= -O3
WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wformat=2
# CPPFLAGS, CFLAGS and LDFLAGS are the user's: they come last and are never replaced.
CFLAGS_BASE := -std=c99 -D_POSIX_C_SOURCE=200809L $(WARN) $(OPT) -fno-math-errno -g -fPIC -Iinclude
ifeq ($(WERROR),1)
CFLAGS_BASE += -Werror
endif
ifeq ($(CI),true)
CFLAGS_BASE += -Werror
endif
ifeq ($(SANITIZE),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
BUILD    := build/san
OUT      := build/san/lib
else
SANFLAGS :=
BUILD    := build/rel
OUT      := lib
endif
# `make HDF5=1`: the D4RL/Minari reader (Debian's libhdf5-dev).
ifeq ($(HDF5),1)
HDF5_CFLAGS := $(shell pkg-config --cflags hdf5) -DDISTILL_HAVE_HDF5=1
HDF5_LIBS   := $(shell pkg-config --libs hdf5)
endif
# `make MPI=1`: the distill program's --mpi (data-parallel KRR-ST over MPI ranks).
ifeq ($(MPI),1)
MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null) -DDISTILL_HAVE_MPI=1
MPI_LIBS   := $(shell mpicc --showme:link 2>/dev/null)
endif
ALL_CFLAGS  := $(CFLAGS_BASE) $(SANFLAGS) $(HDF5_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(SANFLAGS) $(LDFLAGS)
DEP_LIBS    := -lblis -lz -lm -lpthread -fopenmp $(HDF5_LIBS)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm -pthread)

LIB_SRC := $(wildcard src/core/*.c src/kernels/*.c src/data/*.c src/nn/*.c src/solver/*.c \
                      src/teacher/*.c src/rl/*.c src/policy/*.c src/diffusion/*.c src/vdd/*.c src/krrst/*.c src/kd/*.c src/orl/*.c src/mask/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
STATIC  := $(OUT)/libdistill.a
SONAME  := libdistill.so.$(MAJOR)
SHARED  := $(OUT)/libdistill.so.$(VERSION)

TEST_SRC := $(wildcard test/test_*.c) test/check_main.c test/alloc_wrap.c
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(BUILD)/test/check_distill
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
BENCHES  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
CLI_SRC  := $(wildcard src/cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
CLI_BIN  := $(BUILD)/bin/distill

.PHONY: all static shared check test-c test-slow test-fuzz fuzz test-python test-examples test-abi \
        test-install test-python-loop test-cli test-cli-args test-valgrind test-layers test-build test-abi-guard \
        test-hdf5 hdf5-run test-mpi bench demo install install-python uninstall \
        clean abi-check abi-baseline deps
all: static shared $(CLI_BIN)

# One object per source file; -MMD -MP record which headers each includes,
# so a header change rebuilds only what depends on it.
$(LIB_OBJ): OBJ_FLAGS += -fvisibility=hidden -fopenmp
$(TEST_OBJ) $(CLI_OBJ): OBJ_FLAGS += -Isrc
$(BUILD)/src/cli/mpi.o $(BUILD)/src/cli/masks_mpi.o: OBJ_FLAGS += $(MPI_CFLAGS)
# Small GEMMs want fused multiply-adds (src/nn/gemm_small.c).
$(BUILD)/src/nn/gemm_small.o: OBJ_FLAGS += -ffp-contract=fast
# Mish's exponential vectorises once its clamps may be selects (src/nn/activation.c).
$(BUILD)/src/nn/activation.o: OBJ_FLAGS += -fno-trapping-math

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(OBJ_FLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

# the command-line program, linked statically against the library
$(CLI_BIN): $(CLI_OBJ) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(STATIC) $(DEP_LIBS) $(MPI_LIBS)

static: $(STATIC)
shared: $(SHARED)

$(STATIC): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SHARED): $(LIB_OBJ) lib/libdistill.map
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/libdistill.map \
	    -Wl,--no-undefined -o $@ $(LIB_OBJ) $(DEP_LIBS)
	ln -sf libdistill.so.$(VERSION) $(OUT)/$(SONAME)
	ln -sf $(SONAME) $(OUT)/libdistill.so

deps:
	@sh scripts/install-deps.sh --ensure

# ---- tests -----------------------------------------------------------------
# The test binary wraps the C allocator (test/alloc_wrap.c) to prove that
# inference allocates nothing.
WRAP_ALLOC := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign,--wrap=aligned_alloc
$(TEST_BIN): $(TEST_OBJ) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $(WRAP_ALLOC) -o $@ $(TEST_OBJ) $(STATIC) $(DEP_LIBS) $(CHECK_LIBS)

FUZZ_TARGETS := idx model distilled csv kd_resume krrst_resume policy orl_resume diffusion vdd_resume mask share ppo_resume masknet

$(BUILD)/test/fuzz_%_smoke: test/fuzz/fuzz_%.c test/fuzz/driver.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Isrc -o $@ $< test/fuzz/driver.c $(STATIC) $(DEP_LIBS)

test-fuzz: $(FUZZ_TARGETS:%=$(BUILD)/test/fuzz_%_smoke)
	@for t in $(FUZZ_TARGETS); do $(BUILD)/test/fuzz_$${t}_smoke || exit 1; done

# libFuzzer proper (clang): make fuzz FUZZ_TARGET=model FUZZ_SECONDS=60
FUZZ_SECONDS ?= 60
FUZZ_TARGET ?= idx
fuzz: $(BUILD)/test/fuzz_$(FUZZ_TARGET)_smoke
	@mkdir -p build/fuzz/corpus-$(FUZZ_TARGET)
	$(BUILD)/test/fuzz_$(FUZZ_TARGET)_smoke --seeds build/fuzz/corpus-$(FUZZ_TARGET)
	clang -std=c99 -D_POSIX_C_SOURCE=200809L -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -Iinclude -Isrc -o build/fuzz/fuzz_$(FUZZ_TARGET) test/fuzz/fuzz_$(FUZZ_TARGET).c $(LIB_SRC) $(DEP_LIBS)
	build/fuzz/fuzz_$(FUZZ_TARGET) -max_total_time=$(FUZZ_SECONDS) -max_len=8192 build/fuzz/corpus-$(FUZZ_TARGET)

# Data-parallel KRR-ST: the distill program built again with MPI=1 beside
# this build, run under mpirun against one process (scripts/test-mpi.sh).
test-mpi:
	@if command -v mpicc >/dev/null 2>&1 && command -v mpirun >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory MPI=1 BUILD=$(BUILD)/mpi OUT=$(BUILD)/mpi/lib $(BUILD)/mpi/bin/distill && \
	    PYTHON="$(PYTHON)" sh scripts/test-mpi.sh $(BUILD)/mpi/bin/distill $(BUILD)/mpi-test; \
	else echo "test-mpi: mpicc/mpirun not installed, skipped (make deps installs libopenmpi-dev)"; fi

# The HDF5 reader: the library built again with HDF5=1 beside this build,
# its tests and its fuzz target (files written with the HDF5 C API).
test-hdf5:
	@if pkg-config --exists hdf5 2>/dev/null; then \
	    $(MAKE) --no-print-directory HDF5=1 BUILD=$(BUILD)/hdf5 OUT=$(BUILD)/hdf5/lib hdf5-run; \
	else echo "test-hdf5: libhdf5-dev not installed, skipped (make deps installs it)"; fi

# libhdf5 1.10 leaks internal ids on some damaged files (and says so at
# exit): LeakSanitizer is off here; the tests count our own allocations.
hdf5-run: $(BUILD)/test/hdf5_check $(BUILD)/test/fuzz_hdf5_smoke
	@ASAN_OPTIONS=detect_leaks=0 $(BUILD)/test/hdf5_check
	@ASAN_OPTIONS=detect_leaks=0 $(BUILD)/test/fuzz_hdf5_smoke

$(BUILD)/test/hdf5_check: test/hdf5/test_hdf5.c test/hdf5/h5_files.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Isrc -Itest -o $@ $< $(STATIC) $(DEP_LIBS) $(CHECK_LIBS)

$(BUILD)/test/abi_smoke: test/abi_smoke.c $(SHARED)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -L$(OUT) -ldistill -Wl,-rpath,$(abspath $(OUT))

$(BUILD)/examples/%: examples/%.c $(SHARED)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -L$(OUT) -ldistill -lz -lm -Wl,-rpath,$(abspath $(OUT))

$(BUILD)/bench/%: bench/%.c bench/bench_util.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Isrc -o $@ $< $(STATIC) $(DEP_LIBS)

# The sanitised Python run preloads ASan's runtime into the interpreter.
ifeq ($(SANITIZE),1)
PY_ENV := LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" ASAN_OPTIONS=detect_leaks=0
endif

# Installing and ABI comparison concern the release build only.
ifeq ($(SANITIZE),1)
CHECK_GROUPS := test-layers test-c test-slow test-fuzz test-abi test-examples test-python test-python-loop \
                test-cli test-cli-args test-hdf5
else
CHECK_GROUPS := test-layers test-build test-c test-slow test-fuzz test-abi test-examples test-python \
                test-cli test-cli-args test-valgrind test-install abi-check test-abi-guard test-hdf5 test-mpi
endif

# `make check` installs nothing: missing packages come from `make deps`
# (which .ci/run and `make demo` call).
check: all $(CHECK_GROUPS)
	@echo "make check: all test groups passed ($(CHECK_GROUPS))"

test-layers:
	@sh scripts/check-layers.sh

test-build:
	@MAKE="make --no-print-directory" sh scripts/test-build.sh

test-cli: $(CLI_BIN)
	@sh scripts/test-cli.sh $(CLI_BIN) $(BUILD)/cli-test

test-cli-args: $(CLI_BIN)
	@sh scripts/test-cli-args.sh $(CLI_BIN) $(BUILD)/cli-args

test-valgrind: $(CLI_BIN)
	@MPI="$(MPI)" sh scripts/test-valgrind.sh $(CLI_BIN) $(BUILD)/valgrind-test

test-install: all
	@MAKE="make --no-print-directory" PYTHON="$(PYTHON)" bash scripts/test-install.sh

# The unit tier; the slow tier holds the fits on real data, with a longer
# timeout under the sanitizers (they run several times slower there).
ifeq ($(SANITIZE),1)
SLOW_TIMEOUT := 1800
CK_MULT      := 4
else
SLOW_TIMEOUT := 600
CK_MULT      := 1
endif
test-c: $(TEST_BIN)
	CK_DEFAULT_TIMEOUT=120 CK_TIMEOUT_MULTIPLIER=$(CK_MULT) $(TEST_BIN)

test-slow: $(TEST_BIN)
	CK_DEFAULT_TIMEOUT=$(SLOW_TIMEOUT) DISTILL_TEST_TIER=slow $(TEST_BIN)

test-abi: $(BUILD)/test/abi_smoke
	$(BUILD)/test/abi_smoke
	@sh scripts/check-exports.sh $(SHARED)
	@sh scripts/check-message-audit.sh $(SHARED)
	@$(PYTHON) scripts/check-symbol-map.py include/distill lib/libdistill.map

test-examples: $(EXAMPLES)
	$(BUILD)/examples/hello_krr
	$(BUILD)/examples/privileged_info
	$(BUILD)/examples/policy_student
	$(BUILD)/examples/control_loop "" 400 2000
	$(BUILD)/examples/robot_loop "" 400 2000
	DISTILL_LIB=$(abspath $(SHARED)) PYTHONPATH=python $(PY_ENV) $(PYTHON) examples/hello_krr.py
	DISTILL_LIB=$(abspath $(SHARED)) PYTHONPATH=python $(PY_ENV) $(PYTHON) examples/privileged_info.py
	$(PY_ENV) SANFLAGS="$(SANFLAGS)" CC="$(CC)" PYTHON="$(PYTHON)" sh scripts/test-readme.sh $(abspath $(OUT))

test-python: $(SHARED)
	DISTILL_LIB=$(abspath $(SHARED)) PYTHONPATH=python $(PY_ENV) $(PYTHON) test/test_python.py

LOOPS ?= 20
test-python-loop: $(SHARED)
	@$(PY_ENV) PYTHON="$(PYTHON)" sh scripts/test-python-loop.sh $(abspath $(SHARED)) $(LOOPS)

bench: deps $(BENCHES) $(CLI_BIN)
	@if command -v mpicc >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory MPI=1 BUILD=$(BUILD)/mpi OUT=$(BUILD)/mpi/lib $(BUILD)/mpi/bin/distill; fi
	@for b in $(BENCHES); do echo "== $$b"; BENCH_DISTILL=$(abspath $(CLI_BIN)) \
	    BENCH_DISTILL_MPI=$(abspath $(BUILD)/mpi/bin/distill) $$b || exit 1; done
	@echo "== bench/bench_krrst (about 110 minutes)"; $(PYTHON) bench/bench_krrst
	-@DISTILL_LIB=$(abspath $(SHARED)) PYTHONPATH=python $(PYTHON) bench/krrst_torch.py
	-@DISTILL_LIB=$(abspath $(SHARED)) PYTHONPATH=python $(PYTHON) bench/compare_torch.py
	-@DISTILL_LIB=$(abspath $(SHARED)) PYTHONPATH=python $(PYTHON) bench/orl_torch.py
	-@DISTILL_LIB=$(abspath $(SHARED)) PYTHONPATH=python BENCH_VDD=$(abspath $(BUILD)/bench/bench_vdd) $(PYTHON) bench/vdd_torch.py
	-@DISTILL_LIB=$(abspath $(SHARED)) PYTHONPATH=python $(PYTHON) bench/ppo_torch.py

# The main job (docs/krrst.md): a supervised teacher on Fashion-MNIST
# classes 0-4, KRR-ST distillation of those images into 10 (the real batch
# augmented), then transfer to classes 5-9: the distilled set against its
# initial real subset and other real images, 5 seeds, and the gaps against
# steps (build/demo/report.md, gaps.png); about 7 minutes here.
DEMO_DIR   ?= build/demo
DEMO_STEPS ?= 4000
DEMO_EVERY ?= 1000
demo: deps $(CLI_BIN) shared
	$(CLI_BIN) krrst --m 10 --steps $(DEMO_STEPS) --lr 2.5e-3 --flip 1 --crop 3 --export-every $(DEMO_EVERY) \
	    --out $(DEMO_DIR) --threads 2
	$(PYTHON) scripts/demo_report.py $(DEMO_DIR) --seeds 5 --bin $(CLI_BIN)
	@echo "demo: the distilled images are in $(DEMO_DIR)/distilled.png, the gaps in $(DEMO_DIR)/gaps.png"

# ---- install -----------------------------------------------------------------
# Generated files go to $(BUILD), never into the source tree.
PC_FILE   := $(BUILD)/distill.pc
PYVER     := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3)
PYTHONDIR ?= $(LIBDIR)/python$(PYVER)/dist-packages

$(PC_FILE): distill.pc.in include/distill/version.h
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@
.PHONY: $(PC_FILE)

install: all $(PC_FILE) install-python
	install -d $(DESTDIR)$(INCLUDEDIR)/distill $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/distill/*.h $(DESTDIR)$(INCLUDEDIR)/distill/
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf libdistill.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libdistill.so
	install -m 644 $(PC_FILE) $(DESTDIR)$(PKGCONFIGDIR)/distill.pc
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(CLI_BIN) $(DESTDIR)$(BINDIR)/distill

# The ctypes binding, told where the library was installed (_install.py).
install-python:
	install -d $(DESTDIR)$(PYTHONDIR)/distill
	install -m 644 python/distill/*.py $(DESTDIR)$(PYTHONDIR)/distill/
	printf '"""Written by make install."""\nLIBDIR = %s\n' "'$(LIBDIR)'" > $(DESTDIR)$(PYTHONDIR)/distill/_install.py

uninstall:
	rm -rf $(DESTDIR)$(INCLUDEDIR)/distill
	rm -f $(DESTDIR)$(LIBDIR)/libdistill.a $(DESTDIR)$(LIBDIR)/libdistill.so* \
	      $(DESTDIR)$(PKGCONFIGDIR)/distill.pc $(DESTDIR)$(BINDIR)/distill
	rm -rf $(DESTDIR)$(PYTHONDIR)/distill

# ---- ABI ---------------------------------------------------------------------
# Only additions since the baseline (docs/abi.md): scripts/abi_compare.py on
# abidw's dumps (every function, struct layout, enumerator and symbol
# version), and every public integer constant (scripts/abi-constants.sh).
# The experimental nodes promise nothing; their 0.1 aliases are checked.
ABI_NODES_FREE := 'DISTILL_EXPERIMENTAL_*'
abi-check: $(SHARED)
	@command -v abidw >/dev/null || { echo "abi-check: abidw is missing (make deps)" >&2; exit 1; }
	@abidw --headers-dir include/distill --out-file $(BUILD)/current.abi $(SHARED)
	@$(PYTHON) scripts/abi_compare.py abi/baseline.abi $(BUILD)/current.abi \
	    --renames abi/renames.txt --ignore-node $(ABI_NODES_FREE)
	@sh scripts/abi-constants.sh $(CC) include/distill $(BUILD)/current.constants
	@sh scripts/abi-constants.sh --check abi/baseline.constants $(BUILD)/current.constants

# At a release: the baseline becomes this build, and the renames are spent.
abi-baseline: $(SHARED)
	abidw --headers-dir include/distill --out-file abi/baseline.abi $(SHARED)
	sh scripts/abi-constants.sh $(CC) include/distill abi/baseline.constants
	sed -i '/^[^#]/d' abi/renames.txt

# The guard itself: each kind of break planted in a scratch copy must make
# `make abi-check` fail (about a minute).
test-abi-guard:
	@PYTHON="$(PYTHON)" CC="$(CC)" sh scripts/test-abi-guard.sh .

clean:
	rm -rf build lib/libdistill.a lib/libdistill.so*
