# contrib/install.mk: make install / make uninstall. Included by the top Makefile.
#
#   make install [PREFIX=/usr/local] [DESTDIR=] [SYSCONFDIR=/etc]
#
#   $(PREFIX)/bin/pgfold                          the binary, 0755
#   $(SYSTEMDUNITDIR)/pgfold.service              from contrib/pgfold.service.in, ExecStart under PREFIX
#   $(SYSUSERSDIR)/pgfold.conf                    sysusers.d: the system user pgfold
#   $(SYSCONFDIR)/pgfold/pgfold.ini               the sample config, only if there is none yet
#   $(PREFIX)/share/doc/pgfold/pgfold.ini.example the same sample, always (compare after upgrades)
#
# Unit folder: systemd searches /etc/systemd/system, /usr/local/lib/systemd/system and
# /lib/systemd/system (`systemd-analyze unit-paths`). PREFIX=/usr installs where the
# distribution keeps units (systemd.pc's systemdsystemunitdir: /lib/systemd/system on Debian
# 12); any other PREFIX installs to $(PREFIX)/lib/systemd/system, which systemd searches for
# /usr/local only: for PREFIX=/opt/x say SYSTEMDUNITDIR=/etc/systemd/system (or `systemctl link`).
# The sysusers.d folder follows the same rule (systemd-sysusers reads /usr/local/lib/sysusers.d).
#
# With DESTDIR empty, as root, make install also runs systemd-sysusers to create the user now;
# with DESTDIR (packaging) it only installs files: the package runs systemd-sysusers itself.

SYSCONFDIR ?= /etc
BINDIR     ?= $(PREFIX)/bin
DOCDIR     ?= $(PREFIX)/share/doc/pgfold
ifeq ($(PREFIX),/usr)
SYSTEMDUNITDIR ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
SYSUSERSDIR    ?= $(or $(shell pkg-config --variable=sysusersdir systemd 2>/dev/null),/usr/lib/sysusers.d)
else
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR    ?= $(PREFIX)/lib/sysusers.d
endif

.PHONY: install uninstall

# Depends on the binary only (not `all`): `make -o BUILD/pgfold install` installs a binary as
# it is, which is what tests/integration/t_install.sh does.
install: $(BUILD)/pgfold contrib/pgfold.service.in contrib/pgfold.sysusers contrib/pgfold.ini
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/pgfold
	install -m 0755 $(BUILD)/pgfold $(DESTDIR)$(BINDIR)/pgfold
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    contrib/pgfold.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/pgfold.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/pgfold.service
	install -m 0644 contrib/pgfold.sysusers $(DESTDIR)$(SYSUSERSDIR)/pgfold.conf
	install -m 0644 contrib/pgfold.ini $(DESTDIR)$(DOCDIR)/pgfold.ini.example
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/pgfold/pgfold.ini ]; then \
	    echo "kept $(DESTDIR)$(SYSCONFDIR)/pgfold/pgfold.ini (the new sample: $(DOCDIR)/pgfold.ini.example)"; \
	else \
	    echo "install -m 0644 contrib/pgfold.ini $(DESTDIR)$(SYSCONFDIR)/pgfold/pgfold.ini"; \
	    install -m 0644 contrib/pgfold.ini $(DESTDIR)$(SYSCONFDIR)/pgfold/pgfold.ini; \
	fi
	@case "$(SYSTEMDUNITDIR)" in \
	    /etc/systemd/system|/usr/local/lib/systemd/system|/lib/systemd/system|/usr/lib/systemd/system) ;; \
	    *) echo "note: systemd does not search $(SYSTEMDUNITDIR): systemctl link $(SYSTEMDUNITDIR)/pgfold.service";; \
	esac
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null; then \
	    echo "systemd-sysusers $(SYSUSERSDIR)/pgfold.conf"; \
	    systemd-sysusers $(SYSUSERSDIR)/pgfold.conf; \
	    echo "next: edit $(SYSCONFDIR)/pgfold/pgfold.ini, then systemctl daemon-reload && systemctl enable --now pgfold"; \
	elif [ -z "$(DESTDIR)" ]; then \
	    echo "note: run systemd-sysusers $(SYSUSERSDIR)/pgfold.conf as root to create the pgfold user"; \
	fi

# Leaves $(SYSCONFDIR)/pgfold/pgfold.ini and the pgfold user alone (they are the admin's).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pgfold $(DESTDIR)$(SYSTEMDUNITDIR)/pgfold.service \
	    $(DESTDIR)$(SYSUSERSDIR)/pgfold.conf $(DESTDIR)$(DOCDIR)/pgfold.ini.example
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null
