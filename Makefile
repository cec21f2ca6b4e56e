# runbook — build, test, demo. `make` builds build/runbook; `make test` runs
# every suite against a lab started on 127.0.0.1 and ends with "N passed, N failed".
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
PKGS     = lua5.4 lua5.4-cjson libcurl hiredis yaml-0.1 libpq openssl zlib
DEPS_DEB = liblua5.4-dev lua5.4 lua-cjson lua-cjson-dev lua-busted libcurl4-openssl-dev libpq-dev \
           postgresql libhiredis-dev redis-server libyaml-dev zlib1g-dev libssl-dev prometheus golang-go \
           pkg-config tmux clang libclang-rt-14-dev python3 curl jq iproute2 procps util-linux
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# liblua5.4-cjson.a is linked in whole so the binary needs no cjson.so at run time.
CJSON_A  = /usr/lib/x86_64-linux-gnu/liblua5.4-cjson.a
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Werror -Wno-unused-parameter
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Iengine -Iengine/host -I$(BUILD)/gen $(EXTRA_CFLAGS)
LIBS     = $(filter-out -llua5.4-cjson,$(PKG_LIBS)) -lm -ldl -lpthread -Wl,-E

# The core (in the binary) reads runbooks; the engine (a shared object embedded
# in the binary, loaded on first use) holds the gate, audit and every binding.
# engine/host/ is the core; everything else under engine/ is the engine.
CORE_SRC   = $(filter-out engine/host/main.c,$(sort $(wildcard engine/host/*.c)))
ENGINE_SRC = $(sort $(wildcard engine/*.c engine/core/*.c engine/bind/*.c engine/net/*.c))
CORE_OBJ   = $(patsubst %.c,$(BUILD)/%.o,$(CORE_SRC)) $(BUILD)/gen/lualib.o $(BUILD)/gen/module_names.o
ENGINE_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(ENGINE_SRC))
LUALIB     = $(sort $(shell find lualib -name '*.lua' 2>/dev/null))
BIND_SRC   = $(sort $(wildcard engine/bind/*.c))
UNIT_SRC   = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN   = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all deps test demo install clean asan lab lab-down fuzz bench check-deps
all: $(BUILD)/runbook

deps:
	@missing=""; for p in $(DEPS_DEB); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "deps: all present"; fi

$(BUILD)/%.o: %.c $(wildcard engine/*.h engine/*/*.h) | $(BUILD)/gen/preload.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -c $< -o $@

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
	$(CC) $(ALL_CFLAGS) -fPIC -c $< -o $@

$(BUILD)/engine.so: $(ENGINE_OBJ)
	$(CC) $(ALL_CFLAGS) -shared -o $@ $^ $(filter-out -llua5.4,$(LIBS)) -llua5.4
$(BUILD)/gen/engine_blob.o: $(BUILD)/engine.so
	printf '.section .rodata\n.global rb_engine_blob\n.global rb_engine_blob_end\n.balign 64\nrb_engine_blob:\n.incbin "%s"\nrb_engine_blob_end:\n.section .note.GNU-stack,"",@progbits\n' $< > $(BUILD)/gen/engine_blob.s
	$(CC) -c $(BUILD)/gen/engine_blob.s -o $@

# entry.c includes the generated module table: a new binding must rebuild it.
$(BUILD)/engine/entry.o: $(BUILD)/gen/preload.h

# Unit tests link core and engine statically.
$(BUILD)/libengine.a: $(CORE_OBJ) $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/runbook: $(BUILD)/engine/host/main.o $(CORE_OBJ) $(BUILD)/gen/engine_blob.o
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(CJSON_A) -llua5.4 -lm -ldl -Wl,-E

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libengine.a tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< -Wl,--whole-archive $(BUILD)/libengine.a -Wl,--no-whole-archive $(CJSON_A) $(LIBS)

test: all $(UNIT_BIN)
	@RB_BUILD=$(BUILD) bash tests/run

asan:
	$(MAKE) BUILD=build-asan CC=clang CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

demo: deps all
	@bash tools/demo.sh

lab: all
	@bash tests/lab/up.sh
lab-down:
	@bash tests/lab/down.sh

fuzz:
	@bash tests/fuzz/run.sh

bench: all
	@for b in bench/*.sh; do echo "== $$b"; bash $$b || exit 1; done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/runbook
	install -m 0755 $(BUILD)/runbook $(DESTDIR)$(PREFIX)/bin/runbook
	[ ! -f docs/runbook.1 ] || install -m 0644 docs/runbook.1 $(DESTDIR)$(PREFIX)/share/man/man1/runbook.1
	cp -R runbooks $(DESTDIR)$(PREFIX)/share/runbook/

clean:
	rm -rf build build-asan
