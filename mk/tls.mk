# mk/tls.mk: the broker checks its TLS certificate and key with OpenSSL
# (broker/base/tls_files.c), the library lws already links for wss.
PKG_CFLAGS += $(shell pkg-config --cflags openssl 2>/dev/null)
PKG_LIBS   += $(shell pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto)
