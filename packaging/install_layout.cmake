# Runs at INSTALL time (install(SCRIPT)), after the binaries are in place. The
# configuration and the systemd unit depend on the prefix of this very install -
# `cmake --install build --prefix P` or CPack's /usr - so they are generated here, not
# at configure time. As GNUInstallDirs does for /usr, the /usr prefix puts them in /etc
# and /lib; any other prefix keeps them under it.
#
# Set by packaging/CMakeLists.txt: WAYBILL_PACKAGING_DIR, WAYBILL_SOURCE_DIR,
# WAYBILL_GEN_DIR, WAYBILL_BINDIR_REL, WAYBILL_DOCDIR_REL.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(WAYBILL_CONFDIR "/etc/waybill")
  set(_unitdir "/lib/systemd/system")
else()
  set(WAYBILL_CONFDIR "${CMAKE_INSTALL_PREFIX}/etc/waybill")
  set(_unitdir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()
set(WAYBILL_BINDIR "${CMAKE_INSTALL_PREFIX}/${WAYBILL_BINDIR_REL}")
set(WAYBILL_DOCDIR "${CMAKE_INSTALL_PREFIX}/${WAYBILL_DOCDIR_REL}")

configure_file("${WAYBILL_PACKAGING_DIR}/waybilld.yaml.in" "${WAYBILL_GEN_DIR}/waybilld.yaml" @ONLY)
configure_file("${WAYBILL_PACKAGING_DIR}/waybilld.service.in" "${WAYBILL_GEN_DIR}/waybilld.service" @ONLY)

# file(INSTALL) prepends $ENV{DESTDIR} itself and records the files in the manifest.
file(INSTALL DESTINATION "${WAYBILL_CONFDIR}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
     FILES "${WAYBILL_GEN_DIR}/waybilld.yaml")
# Empty until an operator adds profiles: nothing is booked or read by surprise.
file(MAKE_DIRECTORY "$ENV{DESTDIR}${WAYBILL_CONFDIR}/carriers" "$ENV{DESTDIR}${WAYBILL_CONFDIR}/sources")
file(INSTALL DESTINATION "${_unitdir}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${WAYBILL_GEN_DIR}/waybilld.service")
