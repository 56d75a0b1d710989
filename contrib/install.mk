# contrib/install.mk: make install. Included by the top Makefile.
#
#   make install PREFIX=/usr/local DESTDIR=

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/pgfold
	install -m 0755 $(BUILD)/pgfold $(DESTDIR)$(PREFIX)/bin/pgfold
	install -m 0644 contrib/pgfold.ini contrib/pgfold.service $(DESTDIR)$(PREFIX)/share/pgfold/

