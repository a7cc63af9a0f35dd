# SPDX-License-Identifier: Apache-2.0
# Makefile - one non-recursive GNU make for conduit. `make help` lists targets.
#
# Sources are found by wildcard: a new src/<module>.c, applets/<applet>.c or
# test/unit/<module>_test.c needs no edit here. Everything generated goes
# under build/:
#   build/conduit            dynamic binary (-O2 -g)
#   build/static/conduit     fully static binary (FROM-scratch images)
#   build/image/...          the OCI image archive of the static binary
#   build/asan/...           AddressSanitizer + UBSan variant (check-asan)
#   build/fuzz/...           libFuzzer targets (clang)
#   build/gen/...            generated headers

BASE_VERSION := 0.1.0
# git describe when the tree has a v* tag; else the base version plus the
# commit; else the base version alone (a tarball)
VERSION ?= $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || \
	{ h=$$(git rev-parse --short=7 HEAD 2>/dev/null) && \
	  echo "v$(BASE_VERSION)-g$$h$$(git diff --quiet HEAD -- 2>/dev/null || echo -dirty)"; } || \
	echo "v$(BASE_VERSION)")

# the image `make image` builds, and the one install and inject put in
# manifests by default: localhost/ names a local archive (ctr images import,
# podman load), never someone's registry
IMAGE_REPO ?= localhost/conduit

CC ?= cc
CLANG ?= clang
B ?= build
GEN := $(B)/gen

WARN := -Wall -Wextra -Werror -Wno-format-zero-length -Wno-missing-field-initializers -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 $(WARN) -fno-strict-aliasing
CPPFLAGS += -D_GNU_SOURCE -Iinclude -I$(GEN)
LDFLAGS ?=
LIBS := -lev -lcares -lnghttp2 -lcjson -lprotobuf-c -lmbedtls -lmbedx509 -lmbedcrypto -lhttp_parser -lyaml -lm

SRCS := $(wildcard src/*.c)
APPLET_SRCS := $(wildcard applets/*.c)
UNIT_SRCS := $(wildcard test/unit/*.c)
FUZZ_SRCS := $(wildcard test/fuzz/*_fuzz.c)
FUZZ_NAMES := $(patsubst test/fuzz/%_fuzz.c,%,$(FUZZ_SRCS))

# --- gRPC messages: proto/*.proto -> protobuf-c at build time ---------------
PROTOS := $(sort $(wildcard proto/*.proto proto/google/protobuf/*.proto))
PROTO_C := $(patsubst proto/%.proto,$(GEN)/proto/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)
SRCS += $(PROTO_C)
CPPFLAGS += -I$(GEN)/proto
# nothing built is intermediate: keep generated sources for the compiler
# and for reading, and the fuzz objects between fuzz builds
.SECONDARY:

$(GEN)/proto/%.pb-c.c $(GEN)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)/proto
	@echo "  PROTOC  $<"
	@protoc-c -Iproto --c_out=$(GEN)/proto $<

# --- variants: obj_rule(dir, cc, extra cflags) ------------------------------
define obj_rule
$(1)/obj/%.o: %.c $(GEN)/version_gen.h | $$(PROTO_H)
	@mkdir -p $$(@D)
	@echo "  CC      $$@"
	@$(2) $$(CPPFLAGS) $$(CFLAGS) $(3) -MMD -MP -c $$< -o $$@
endef

ASAN_FLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
	-fno-omit-frame-pointer -Wno-unused-command-line-argument

$(eval $(call obj_rule,$(B),$(CC),))
$(eval $(call obj_rule,$(B)/static,$(CC),))
$(eval $(call obj_rule,$(B)/asan,$(CC),$(ASAN_FLAGS)))
$(eval $(call obj_rule,$(B)/fuzz,$(CLANG),$(FUZZ_FLAGS)))

objs = $(patsubst %.c,$(1)/obj/%.o,$(2))

# --- embedded files: manifests/ and web/ compiled into the binary ----------
EMBED_FILES := $(sort $(wildcard manifests/*.yml manifests/*.yaml web/*.html \
	web/*.css web/*.js web/*.svg))
GEN_SRCS := $(GEN)/embed_files.c
SRCS += $(GEN_SRCS)

$(B)/host/embed: scripts/embed.c
	@mkdir -p $(@D)
	@$(CC) -O1 -o $@ $<

# the list is rewritten only when it changes, so a removed file regenerates
$(GEN)/embed.list: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' $(EMBED_FILES) > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(GEN)/embed_files.c: $(B)/host/embed $(GEN)/embed.list $(EMBED_FILES)
	@echo "  EMBED   $@"
	@$(B)/host/embed $@ $(EMBED_FILES)

.PHONY: all
.DEFAULT_GOAL := all
all: $(B)/conduit

# The version header is rewritten only when the version changes, so a new
# commit relinks one object instead of rebuilding everything.
.PHONY: FORCE
$(GEN)/version_gen.h: FORCE
	@mkdir -p $(@D)
	@printf '#define CONDUIT_VERSION "%s"\n#define CONDUIT_IMAGE_REPO "%s"\n' \
		'$(VERSION)' '$(IMAGE_REPO)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(B)/libconduit.a: $(call objs,$(B),$(SRCS))
	@echo "  AR      $@"
	@rm -f $@ && ar rcs $@ $^

$(B)/conduit: $(call objs,$(B),$(APPLET_SRCS)) $(B)/libconduit.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# --- static: Debian ships no libcjson.a, so cJSON is compiled from Debian's
# own source package (apt-get source cjson), fetched by scripts/fetch-cjson.
CJSON_DIR := $(B)/third_party/cjson
$(CJSON_DIR)/cJSON.c:
	@scripts/fetch-cjson $(CJSON_DIR)

$(B)/static/obj/cJSON.o: $(CJSON_DIR)/cJSON.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) -O2 -std=c89 -c $< -o $@

STATIC_LIBS := -lev -lcares -lnghttp2 -lprotobuf-c -lmbedtls -lmbedx509 -lmbedcrypto -lhttp_parser -lyaml -lm
STATIC_OBJS := $(call objs,$(B)/static,$(APPLET_SRCS) $(SRCS)) $(B)/static/obj/cJSON.o
# the code and read-only data `conduit proxy` runs on go first, in segments
# of their own: a sidecar's RSS is what the kernel maps of the binary
# (scripts/gen-layout writes the list from profiles; see its head)
STATIC_LAYOUT := scripts/proxy-layout.ld

.PHONY: static
static: $(B)/static/conduit
$(B)/static/conduit: $(STATIC_OBJS) $(STATIC_LAYOUT)
	@echo "  LD      $@ (static)"
	@$(CC) $(CFLAGS) -static -Wl,-T,$(STATIC_LAYOUT) -o $@ $(STATIC_OBJS) $(STATIC_LIBS)
	@strip -o $@.stripped $@ && mv $@.stripped $@

# for scripts/gen-layout, which links the same objects its own ways
.PHONY: print-static-objs print-static-libs
print-static-objs:
	@echo $(STATIC_OBJS)
print-static-libs:
	@echo $(STATIC_LIBS)

# --- image: a FROM-scratch OCI archive holding only /conduit, no Docker -----
# IMAGE_REF (IMAGE_REPO above, compiled in as CONDUIT_IMAGE_REPO) is the
# reference install and inject put in manifests by default (`make
# print-image-ref`). localhost/ rather than a domain: a cluster that lacks
# the image then fails fast on 127.0.0.1 instead of pulling whatever a
# stranger's registry serves under that name (conduit.io belongs to an
# unrelated project). scripts/make-image is reproducible: same binary, same
# archive, same digest.
IMAGE_REF := $(IMAGE_REPO):$(VERSION)
IMAGE := $(B)/image/conduit-$(VERSION).tar

.PHONY: image print-image-ref
image: $(IMAGE)
$(IMAGE): $(B)/static/conduit scripts/make-image
	@echo "  IMAGE   $@ ($(IMAGE_REF))"
	@scripts/make-image $< /conduit $(IMAGE_REF) $@ >/dev/null

print-image-ref:
	@echo $(IMAGE_REF)

# --- tests -----------------------------------------------------------------
UNIT_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm)

$(B)/test/unit: $(call objs,$(B),$(UNIT_SRCS)) $(B)/libconduit.a
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LIBS) $(UNIT_LIBS)

# test peers: programs only tests run, beside real clients and servers
# (build/test/grpc-peer: our gRPC server and client, for 35-grpc.sh)
$(GEN)/peers/%.pb-c.c $(GEN)/peers/%.pb-c.h: test/peers/%.proto
	@mkdir -p $(GEN)/peers
	@echo "  PROTOC  $<"
	@protoc-c -Itest/peers --c_out=$(GEN)/peers $<

$(B)/test/grpc-peer: test/peers/grpc_peer.c $(GEN)/peers/echo.pb-c.c \
		$(GEN)/peers/echo.pb-c.h $(B)/libconduit.a
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(CPPFLAGS) -I$(GEN)/peers $(CFLAGS) -o $@ test/peers/grpc_peer.c \
		$(GEN)/peers/echo.pb-c.c $(B)/libconduit.a $(LIBS)

# (build/test/kube-watch: informers printing one JSON line per event, for
# test/k8s/20-kube-client.sh)
$(B)/test/kube-watch: test/peers/kube_watch.c $(B)/libconduit.a
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ test/peers/kube_watch.c \
		$(B)/libconduit.a $(LIBS)

# the same under ASan/UBSan: KUBE_WATCH=build/asan/test/kube-watch for
# test/k8s/20-kube-client.sh
$(B)/asan/test/kube-watch: test/peers/kube_watch.c $(call objs,$(B)/asan,$(SRCS))
	@mkdir -p $(@D)
	@echo "  LD      $@ (asan)"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) -o $@ $^ $(LIBS)

$(B)/asan/conduit: $(call objs,$(B)/asan,$(APPLET_SRCS) $(SRCS))
	@echo "  LD      $@ (asan)"
	@$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $^ $(LIBS)

$(B)/asan/test/unit: $(call objs,$(B)/asan,$(UNIT_SRCS) $(SRCS))
	@mkdir -p $(@D)
	@echo "  LD      $@ (asan)"
	@$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $^ $(LIBS) $(UNIT_LIBS)

.PHONY: deps
deps:
	@scripts/install-deps

.PHONY: test unit integ test-k8s
test: deps
	@$(MAKE) --no-print-directory all static image $(B)/test/unit $(B)/test/grpc-peer \
		$(B)/test/kube-watch
	@test/run-tests $(B)/test/unit $(B)/conduit $(B)/static/conduit $(IMAGE)

unit: $(B)/test/unit
	@$(B)/test/unit

integ: all static $(B)/test/grpc-peer $(B)/test/kube-watch
	@test/integ/run $(B)/conduit $(B)/static/conduit

# the one-node Kubernetes suite (root; K8S=NN-name for one test)
test-k8s: deps
	@$(MAKE) --no-print-directory static image $(B)/test/kube-watch
	@test/k8s/run $(B)/static/conduit $(IMAGE)

.PHONY: check-asan
check-asan: deps
	@$(MAKE) --no-print-directory static $(B)/asan/conduit $(B)/asan/test/unit
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	 test/run-tests $(B)/asan/test/unit $(B)/asan/conduit $(B)/static/conduit

# --- fuzz: one libFuzzer binary per test/fuzz/<name>_fuzz.c ----------------
FUZZ_TIME ?= 20
$(B)/fuzz/bin/%: test/fuzz/%_fuzz.c $(call objs,$(B)/fuzz,$(SRCS))
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	@$(CLANG) $(CPPFLAGS) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
		-o $@ $^ $(LIBS)

.PHONY: fuzz
fuzz: deps $(addprefix $(B)/fuzz/bin/,$(FUZZ_NAMES))
	@B=$(B) test/fuzz/run $(FUZZ_TIME) $(FUZZ_NAMES)

# --- bench, demo ------------------------------------------------------------
.PHONY: bench
bench: deps
	@$(MAKE) --no-print-directory static $(B)/test/grpc-peer
	@bench/run $(B)/static/conduit $(B)/test/grpc-peer

# the destination component at scale (issue 12): 1,000 Destination.Get
# streams, 10,000 endpoints, local mode and KWOK on the test cluster (root
# for the latter; it takes the cluster's lock). Not part of `make test`.
.PHONY: bench-destination
bench-destination: deps
	@$(MAKE) --no-print-directory static
	@bench/destination $(B)/static/conduit $(DST_MODES)

.PHONY: demo
demo: deps
	@$(MAKE) --no-print-directory all
	@$(B)/conduit demo

.PHONY: clean
clean:
	rm -rf $(B)

.PHONY: help
help:
	@echo "conduit $(VERSION): targets"
	@echo "  make            build build/conduit (dynamic, -O2 -g)"
	@echo "  make static     build build/static/conduit (fully static, stripped)"
	@echo "  make test       install missing deps, then unit, integration and k8s tests"
	@echo "  make unit       unit tests only (CK_RUN_SUITE=name for one suite)"
	@echo "  make integ      integration tests only (INTEG=NN-name for one)"
	@echo "  make test-k8s   the suite on a real one-node Kubernetes (root; K8S=NN-name)"
	@echo "  make image      build/image/conduit-VERSION.tar: OCI image, FROM scratch"
	@echo "  make check-asan the same tests under AddressSanitizer and UBSan"
	@echo "  make fuzz       every libFuzzer target for FUZZ_TIME seconds (20)"
	@echo "  make bench      benchmark figures beside the peers'"
	@echo "  make bench-destination  destination: 1,000 streams, 10,000 endpoints (DST_MODES=local|kube)"
	@echo "  make demo       the whole mesh and a sample app on this machine"
	@echo "  make deps       install the Debian packages everything needs"
	@echo "  make clean      remove build/"

-include $(shell find $(B) -name '*.d' 2>/dev/null)
