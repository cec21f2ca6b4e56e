# runbook — build, test, demo. `make` builds build/runbook and build/engine.so;
# `make demo` and `make test` first install what is missing (`make deps`), then
# build, in one invocation; `make test` ends with "N passed, N failed".
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
PKGS     = lua5.4 libcurl hiredis yaml-0.1 libpq openssl zlib libmicrohttpd gnutls
# Debian packages: what `make` builds with (all the Dockerfile's build stage
# installs, with `make deps-build`), and what the tests, the lab and the demo add.
DEPS_BUILD = liblua5.4-dev lua5.4 lua-cjson-dev libcurl4-openssl-dev libpq-dev libhiredis-dev libyaml-dev \
             zlib1g-dev libssl-dev libmicrohttpd-dev libgnutls28-dev pkg-config
DEPS_LAB   = lua-cjson lua-busted postgresql redis-server prometheus golang-go tmux clang libclang-rt-14-dev \
             python3 curl jq iproute2 procps util-linux prometheus-alertmanager chromium
DEPS_DEB   = $(DEPS_BUILD) $(DEPS_LAB)

# What the installed packages say (pkg-config, the compiler's library path) is
# asked the first time a recipe needs it, never while this file is parsed: on a
# fresh machine the packages are only there once `make deps` has run, and demo
# and test run it before they re-invoke make. $(call once,VAR,COMMAND,ERRVAR)
# runs COMMAND once, keeps its output in VAR, and stops with the message in
# variable ERRVAR if COMMAND fails.
NOPE := __runbook_probe_failed__
once = $(eval $(1) := $$(shell $(2) 2>/dev/null || echo $(NOPE)))$(if $(findstring $(NOPE),$($(1))),$(error $($(3))))$($(1))
PKG_ERR   = pkg-config cannot find what runbook builds against ($(PKGS)): \
            $(shell pkg-config --print-errors --exists $(PKGS) 2>&1 | head -3) — run `make deps`
PKG_CFLAGS = $(call once,PKG_CFLAGS,pkg-config --cflags $(PKGS),PKG_ERR)
PKG_LIBS   = $(call once,PKG_LIBS,pkg-config --libs $(PKGS),PKG_ERR)
# lua-cjson is linked in whole from its archive, so the binary needs no cjson.so.
CJSON_ERR  = liblua5.4-cjson.a not found by $(CC) -print-file-name (package lua-cjson-dev) — run `make deps`
CJSON_A    = $(call once,CJSON_A,$(CC) -print-file-name=liblua5.4-cjson.a | grep /,CJSON_ERR)

CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Werror -Wno-unused-parameter
# -fvisibility=hidden: engine.so exports only its entry (RB_ENGINE_EXPORT in engine.h).
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -MP \
             $(PKG_CFLAGS) -Iengine -Iengine/host -I$(BUILD)/gen $(EXTRA_CFLAGS)
# The engine names every library it uses (dpkg-shlibdeps, SBOM scanners see them);
# sanitizer builds leave the runtime's symbols to the binary (asan clears this).
ENGINE_LDFLAGS ?= -Wl,--no-undefined

# The host (engine/host/, in the binary) reads runbooks; the engine (every other
# directory under engine/, build/engine.so, loaded from a file beside the binary
# on first use) holds the gate, audit and every binding. Wildcards: a new file
# is picked up without an edit here.
HOST_SRC   = $(sort $(wildcard engine/host/*.c))
ENGINE_SRC = $(sort $(wildcard engine/*.c engine/core/*.c engine/bind/*.c engine/net/*.c))
HOST_OBJ   = $(patsubst %.c,$(BUILD)/%.o,$(filter-out engine/host/main.c,$(HOST_SRC))) \
             $(BUILD)/gen/lualib.o $(BUILD)/gen/module_names.o
ENGINE_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(ENGINE_SRC))
LUALIB     = $(sort $(shell find lualib -name '*.lua' 2>/dev/null))
BIND_SRC   = $(sort $(wildcard engine/bind/*.c))
UNIT_SRC   = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN   = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
# Unit tests that drive a Lua state (they include "state.h") need the engine's
# entry, hence every binding; the others link only the objects they call.
UNIT_LUA   = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(shell grep -l '"state.h"' $(UNIT_SRC) /dev/null))

.PHONY: all deps deps-build test demo install clean asan lab lab-down fuzz bench units check-build
all: $(BUILD)/runbook $(BUILD)/engine.so

deps deps-build: PACKAGES = $(if $(filter deps-build,$@),$(DEPS_BUILD),$(DEPS_DEB))
deps deps-build:
	@missing=""; for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "deps: all present"; fi

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# lualib/ compiled into the binary as Lua bytecode (luac5.4, debug info kept
# for file:line in messages), one C array per file (tools/embed.c).
LUAC_OUT = $(patsubst lualib/%.lua,$(BUILD)/luac/%.lua,$(LUALIB))
$(BUILD)/luac/%.lua: lualib/%.lua
	@mkdir -p $(dir $@)
	luac5.4 -o $@ $<
$(BUILD)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 $(WARN) $< -o $@
$(BUILD)/gen/lualib.c: $(BUILD)/tools/embed $(LUAC_OUT)
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed $(BUILD)/luac $(LUAC_OUT) > $@
# Every luaopen_rb_* in engine/bind/ is a module; adding a binding is adding a file.
$(BUILD)/gen/preload.h: $(BIND_SRC) tools/gen-preload.sh
	@mkdir -p $(dir $@)
	sh tools/gen-preload.sh table $(BIND_SRC) > $@
$(BUILD)/gen/module_names.c: $(BIND_SRC) tools/gen-preload.sh
	@mkdir -p $(dir $@)
	sh tools/gen-preload.sh names $(BIND_SRC) > $@
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@
# entry.c includes the generated module table (the .d file knows it only after
# the first build).
$(BUILD)/engine/entry.o: $(BUILD)/gen/preload.h

$(BUILD)/engine.so: $(ENGINE_OBJ)
	$(CC) $(ALL_CFLAGS) -shared $(ENGINE_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm -lpthread
$(BUILD)/runbook: $(BUILD)/engine/host/main.o $(HOST_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(CJSON_A) -llua5.4 -lm -ldl

# Unit tests link archives (members are pulled only for the symbols a test
# uses) and --as-needed, so a parser's test carries no binding and no libcurl.
$(BUILD)/libhost.a: $(HOST_OBJ)
$(BUILD)/libengine.a: $(ENGINE_OBJ)
$(BUILD)/libhost.a $(BUILD)/libengine.a:
	@rm -f $@
	ar rcs $@ $^
$(UNIT_LUA): UNIT_LDFLAGS = -Wl,-u,rb_engine
$(UNIT_BIN): $(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libengine.a $(BUILD)/libhost.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(UNIT_LDFLAGS) -Wl,--start-group $(BUILD)/libengine.a $(BUILD)/libhost.a \
	    -Wl,--end-group -Wl,--as-needed $(CJSON_A) $(PKG_LIBS) -lm -ldl -lpthread
units: $(UNIT_BIN)

-include $(patsubst %.o,%.d,$(HOST_OBJ) $(ENGINE_OBJ) $(BUILD)/engine/host/main.o) \
         $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%.d,$(UNIT_SRC))

# demo and test install what is missing, then re-invoke make, which computes
# the flags from the packages now present.
test: deps
	@$(MAKE) --no-print-directory all units
	@RB_BUILD=$(BUILD) bash tests/run

demo: deps
	@$(MAKE) --no-print-directory all
	@bash tools/demo.sh

# The fresh-machine check (tests/build/fresh_machine.sh): demo and test on a
# copy of the tree with pkg-config, dpkg-query and apt-get stubbed.
check-build: all
	@RB_BUILD=$(BUILD) bash tests/run build

asan:
	$(MAKE) BUILD=build-asan CC=clang ENGINE_LDFLAGS= \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

lab: all
	@RB_BUILD=$(BUILD) bash tests/lab/up.sh
lab-down:
	@bash tests/lab/down.sh

fuzz:
	@bash tests/fuzz/run.sh

bench: all
	@for b in bench/*.sh; do echo "== $$b"; RB_BUILD=$(BUILD) bash $$b || exit 1; done

# PREFIX/bin/runbook finds PREFIX/lib/runbook/engine.so from its own path.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/runbook $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/runbook
	install -m 0755 $(BUILD)/runbook $(DESTDIR)$(PREFIX)/bin/runbook
	install -m 0644 $(BUILD)/engine.so $(DESTDIR)$(PREFIX)/lib/runbook/engine.so
	[ ! -f docs/runbook.1 ] || install -m 0644 docs/runbook.1 $(DESTDIR)$(PREFIX)/share/man/man1/runbook.1
	cp -R runbooks $(DESTDIR)$(PREFIX)/share/runbook/

clean:
	rm -rf build build-asan
