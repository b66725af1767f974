"""The slow, obviously-correct reference of the MAP walker: pycrate's SIGTRAN, SCCP and TCAP-MAP.

An M3UA message (the payload of an SCTP DATA chunk, PPID 3) or M2PA message (PPID 5)
is parsed by ``pycrate_mobile.SIGTRAN`` (its MTP3 routing label too); the Protocol Data's SCCP message by ``pycrate_mobile.SCCP``;
the TCAP message and its MAP operations by ``pycrate_asn1dir.TCAP_MAPv2v3`` (the ASN.1 of
Q.773 and TS 29.002).  pycrate decodes checkIMEI with the standard CheckIMEI-Arg, which
ignores Ericsson's IMSI [PRIVATE 1]: that argument is decoded a second time with pycrate's
``EricssonMAP_Extensions.EnhancedCheckIMEI-Arg``, found by pycrate's BER TLV decoder.

Pairing as the walker does it (``_sigmap.pxi``): a Begin's checkIMEI / PSI / ATI is
remembered by (OTID, OPC); the End or Continue whose (DTID, DPC) matches gives the
equipment status (checkIMEI) or the location and IMEI (PSI, ATI: the event is emitted
then).  Same dicts as ``signaling_ref.decode_packet``; plus ``node`` and ``status``.
For tests and the benchmark only (~1-2 thousand messages/s).
"""
from __future__ import annotations

from simbox.fastpath.signaling_ref import Malformed, plmn, tbcd

OPS = {2: "map_ul", 23: "map_ugl", 56: "map_sai", 43: "map_check_imei", 70: "map_psi",
       71: "map_ati"}
PAIRED = (43, 70, 71)


def _mods():
    from pycrate_asn1dir import TCAP_MAPv2v3  # lazy: pycrate's ASN.1 tables (~0.2 s), tests only
    from pycrate_mobile import SCCP, SIGTRAN  # lazy: as above
    return TCAP_MAPv2v3, SCCP, SIGTRAN


def _location(out: dict, octets: bytes):
    if len(octets) not in (5, 7):
        raise Malformed("LAI / CGI length")
    out["plmn"] = plmn(octets[:3])
    out["lac"] = int.from_bytes(octets[3:5], "big")
    out["ci"] = int.from_bytes(octets[5:7], "big") if len(octets) == 7 else -1


def _empty(kind, packet, t):
    return {"packet": packet, "kind": kind, "time": t, "imsi": "", "imei": "", "msisdn": "",
            "plmn": "", "lac": -1, "ci": -1, "rat": -1, "node": "", "status": -1}


class MapReference:
    """Decodes M3UA payloads of one capture in order (the pending Begins are its state)."""

    def __init__(self):
        self.T, self.SCCP, self.SIGTRAN = _mods()
        self.pending: dict = {}

    def m3ua(self, payload: bytes, packet: int, t: int) -> list[dict]:
        m = self.SIGTRAN.SIGTRAN()
        m.from_bytes(payload)
        hdr = m["Header"]
        if hdr["Class"].get_val() != 1 or hdr["Type"].get_val() != 1:
            return []
        for p in m["Params"]:
            if p["Tag"].get_val() == 0x0210:
                pd = p["Val"].get_val()
                opc, dpc, si = int.from_bytes(pd[0:4], "big"), int.from_bytes(pd[4:8], "big"), pd[8]
                if si != 3:
                    return []
                return self.sccp(pd[12:], opc, dpc, packet, t)
        return []

    def m2pa(self, payload: bytes, packet: int, t: int) -> list[dict]:
        m = self.SIGTRAN.M2PA()
        m.from_bytes(payload)
        hdr = m["Header"]
        if hdr["Class"].get_val() != 11 or hdr["Type"].get_val() != 1 or hdr["Len"].get_val() <= 16:
            return []
        mtp3 = self.SIGTRAN.MTP3()
        rest = m["Data"]["Data"].get_val()
        mtp3.from_bytes(rest)
        if mtp3["ServiceInd"].get_val() != 3:
            return []
        return self.sccp(rest[5:], mtp3["OPC"].get_val(), mtp3["DPC"].get_val(), packet, t)

    def sccp(self, data: bytes, opc: int, dpc: int, packet: int, t: int) -> list[dict]:
        msg, err = self.SCCP.parse_SCCP(data)
        if err or msg is None or data[0] not in (0x09, 0x11):
            return []
        ud = msg["Data"].get_val()
        return self.tcap(ud[1] if isinstance(ud, list) else ud, opc, dpc, packet, t)

    def tcap(self, data: bytes, opc: int, dpc: int, packet: int, t: int) -> list[dict]:
        M = self.T.TCAP_MAP_Messages.TCAP_MAP_Message
        M.from_ber(data)
        mtype, body = M.get_val()
        if mtype not in ("begin", "continue", "end"):
            return []
        otid = int.from_bytes(body["otid"], "big") if "otid" in body else None
        dtid = int.from_bytes(body["dtid"], "big") if "dtid" in body else None
        out = []
        for i, (_, (ctype, comp)) in enumerate(body.get("components", [])):
            if ctype == "invoke":
                kind_op = comp["opcode"]
                if kind_op[0] != "local" or kind_op[1] not in OPS:
                    continue
                op = kind_op[1]
                ev = _empty(OPS[op], packet, t)
                arg = comp.get("argument")
                if arg is not None:
                    self._invoke(op, arg[1], ev, data, i)
                if op in PAIRED and mtype == "begin" and otid is not None:
                    self.pending[(otid, opc)] = (op, ev)
                if op not in (70, 71) and ev["imsi"]:
                    out.append(ev)
            elif ctype in ("returnResult", "returnResultNotLast"):
                if mtype == "begin" or dtid is None or (dtid, dpc) not in self.pending:
                    continue
                op, req = self.pending[(dtid, dpc)]
                res = comp.get("result")
                if res is None:
                    continue
                val = res["result"][1]
                if op == 43:
                    if isinstance(val, dict):
                        if "equipmentStatus" in val:
                            req["status"] = _status(val["equipmentStatus"])
                    else:
                        req["status"] = _status(val)
                else:
                    ev = dict(req, packet=packet, time=t)
                    info = val.get("subscriberInfo", {})
                    loc = info.get("locationInformation", {}).get("cellGlobalIdOrServiceAreaIdOrLAI")
                    if loc is not None:
                        _location(ev, loc[1])
                    if "imei" in info:
                        ev["imei"] = tbcd(info["imei"], 14, 16)
                    if (ev["lac"] >= 0 or ev["imei"]) and ev["imsi"]:
                        out.append(ev)
                if ctype == "returnResult":
                    del self.pending[(dtid, dpc)]
        return out

    def _invoke(self, op: int, a, ev: dict, data: bytes, index: int):
        if op in (2, 23):
            ev["imsi"] = tbcd(a["imsi"], 6, 15)
            node = a.get("vlr-Number" if op == 2 else "sgsn-Number")
            if node is not None:
                ev["node"] = tbcd(node[1:], 1, 15)
            if "add-info" in a:
                ev["imei"] = tbcd(a["add-info"]["imeisv"], 14, 16)
            if op == 2 and a.get("pagingArea") and a["pagingArea"][0][0] == "laiFixedLength":
                _location(ev, a["pagingArea"][0][1])
        elif op == 56:
            ev["imsi"] = tbcd(a if isinstance(a, bytes) else a["imsi"], 6, 15)
        elif op == 43:
            if isinstance(a, bytes):
                ev["imei"] = tbcd(a, 14, 16)
            else:
                ev["imei"] = tbcd(a["imei"], 14, 16)
                enh = self._ericsson_check_imei(data, index)
                if "imsi" in enh:
                    ev["imsi"] = tbcd(enh["imsi"], 6, 15)
        elif op == 70:
            ev["imsi"] = tbcd(a["imsi"], 6, 15)
        elif op == 71:
            who = a["subscriberIdentity"]
            if who[0] == "imsi":
                ev["imsi"] = tbcd(who[1], 6, 15)
            else:
                ev["msisdn"] = tbcd(who[1][1:], 1, 15)

    def _ericsson_check_imei(self, data: bytes, index: int) -> dict:
        """The checkIMEI argument of component ``index`` as EnhancedCheckIMEI-Arg."""
        from pycrate_asn1rt.codecs import ASN1CodecBER  # lazy: as _mods
        from pycrate_core.charpy import Charpy  # lazy: as _mods
        tlvs = ASN1CodecBER.decode_all(Charpy(data))[0][4]
        comps = next(x for x in tlvs if x[2] == 12)[4]          # component portion [APPLICATION 12]
        invoke = comps[index][4]
        arg = invoke[-1]                                       # the argument: last of the invoke
        start = arg[5] // 8
        E = self.T.EricssonMAP_Extensions.EnhancedCheckIMEI_Arg
        E.from_ber(bytes([0x30, 0x81, arg[3]]) + data[start:start + arg[3]])
        return E.get_val()


def _status(v) -> int:
    return {"whiteListed": 0, "blackListed": 1, "greyListed": 2}.get(v, v) if isinstance(v, str) else int(v)


__all__ = ["MapReference"]
