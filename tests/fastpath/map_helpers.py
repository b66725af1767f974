"""GSM MAP test messages encoded by pycrate (the independent encoder), and what they must decode to.

A :class:`Dialogue` is drawn at random (hypothesis) or written out; ``messages()`` gives
its TCAP Begin (and End) as pycrate encodes them from the ASN.1 of Q.773 / TS 29.002,
``expected()`` the attach event the walker must give, computed from the fields alone.
The SCCP / M3UA / M2PA framing comes from ``simbox.data.sigtran_writer`` (its layers are
checked against pycrate's SIGTRAN and SCCP parsers through ``MapReference``).
"""
from __future__ import annotations

from dataclasses import dataclass

from simbox.data import sigtran_writer as W

MS = "MAP-MS-DataTypes"
AC = {2: 1, 23: 32, 56: 14, 43: 13, 70: 28, 71: 29}
STATUS = ("whiteListed", "blackListed", "greyListed")


def tbcd(d: str) -> bytes:
    if len(d) % 2:
        d += "F"
    return bytes(int(d[i + 1], 16) << 4 | int(d[i], 16) for i in range(0, len(d), 2))


def plmn_octets(p: str) -> bytes:
    m3 = int(p[5]) if len(p) == 6 else 0xF
    return bytes([int(p[1]) << 4 | int(p[0]), m3 << 4 | int(p[2]), int(p[4]) << 4 | int(p[3])])


@dataclass
class Dialogue:
    op: int                      # 2 UL, 23 UGL, 56 SAI, 43 checkIMEI, 70 PSI, 71 ATI
    imsi: str = ""
    imei: str = ""               # IMEI (15) or IMEISV (16); checkIMEI / add-info / PSI answer
    node: str = ""               # VLR / SGSN number
    plmn: str = ""               # LAI (UL pagingArea) or CGI / LAI (PSI / ATI answer)
    lac: int = -1
    ci: int = -1
    status: int = -1             # checkIMEI answer
    msisdn: str = ""             # ATI by MSISDN
    v2: bool = False             # MAP v2 argument forms (SAI: IMSI alone; checkIMEI: IMEI alone)
    otid: bytes = b"\x00\x00\x00\x01"
    invoke_id: int = 1
    dialogue: bool = True        # with a dialogue portion (AARQ / AARE)
    answered: bool = True

    def _dialogue(self, request: bool):
        pdu = {"protocol-version": (1, 1), "application-context-name":
               (0, 4, 0, 0, 1, 0, AC[self.op], 2 if self.v2 else 3)}
        if not request:
            pdu.update({"result": 0, "result-source-diagnostic": ("dialogue-service-user", 0)})
        return {"direct-reference": (0, 0, 17, 773, 1, 1, 1),
                "encoding": ("single-ASN1-type", ("DialoguePDU", (
                    "dialogueRequest" if request else "dialogueResponse", pdu)))}

    def argument(self):
        op = self.op
        if op == 2:
            a = {"imsi": tbcd(self.imsi), "msc-Number": b"\x91" + tbcd(self.node),
                 "vlr-Number": b"\x91" + tbcd(self.node)}
            if self.imei:
                a["add-info"] = {"imeisv": tbcd(self.imei)}
            if self.lac >= 0:
                a["pagingArea"] = [("laiFixedLength", plmn_octets(self.plmn)
                                    + self.lac.to_bytes(2, "big"))]
            return ((MS, "UpdateLocationArg"), a)
        if op == 23:
            a = {"imsi": tbcd(self.imsi), "sgsn-Number": b"\x91" + tbcd(self.node),
                 "sgsn-Address": b"\x04\x0a\x00\x00\x01"}
            if self.imei:
                a["add-info"] = {"imeisv": tbcd(self.imei)}
            return ((MS, "UpdateGprsLocationArg"), a)
        if op == 56:
            if self.v2:
                return (("MAP-CommonDataTypes", "IMSI"), tbcd(self.imsi))
            return ((MS, "SendAuthenticationInfoArg"),
                    {"imsi": tbcd(self.imsi), "numberOfRequestedVectors": 3})
        if op == 43:
            if self.v2:
                return (("MAP-CommonDataTypes", "IMEI"), tbcd(self.imei))
            a = {"imei": tbcd(self.imei), "requestedEquipmentInfo": (128, 8)}
            if self.imsi:
                a["imsi"] = tbcd(self.imsi)
                return (("EricssonMAP-Extensions", "EnhancedCheckIMEI-Arg"), a)
            return ((MS, "CheckIMEI-Arg"), a)
        if op == 70:
            return ((MS, "ProvideSubscriberInfoArg"),
                    {"imsi": tbcd(self.imsi), "requestedInfo": {"locationInformation": 0}})
        who = ("imsi", tbcd(self.imsi)) if self.imsi else ("msisdn", b"\x91" + tbcd(self.msisdn))
        return ((MS, "AnyTimeInterrogationArg"),
                {"subscriberIdentity": who, "requestedInfo": {"locationInformation": 0},
                 "gsmSCF-Address": b"\x91" + tbcd("8613900000009")})

    def result(self):
        op = self.op
        if op in (2, 23):
            return ((MS, "UpdateLocationRes" if op == 2 else "UpdateGprsLocationRes"),
                    {"hlr-Number": b"\x91" + tbcd("8613900000001")})
        if op == 56:
            return None
        if op == 43:
            if self.v2:
                return ((MS, "EquipmentStatus"), STATUS[self.status])
            return ((MS, "CheckIMEI-Res"), {"equipmentStatus": STATUS[self.status]})
        info = {}
        if self.lac >= 0:
            loc = plmn_octets(self.plmn) + self.lac.to_bytes(2, "big")
            info["locationInformation"] = {"ageOfLocationInformation": 1,
                                           "cellGlobalIdOrServiceAreaIdOrLAI": (
                ("cellGlobalIdOrServiceAreaIdFixedLength", loc + self.ci.to_bytes(2, "big"))
                if self.ci >= 0 else ("laiFixedLength", loc))}
        if self.imei:
            info["imei"] = tbcd(self.imei)
        return ((MS, "ProvideSubscriberInfoRes" if op == 70 else "AnyTimeInterrogationRes"),
                {"subscriberInfo": info})

    def messages(self) -> list[bytes]:
        """TCAP Begin (and End) encoded by pycrate."""
        from pycrate_asn1dir import TCAP_MAPv2v3 as T
        M = T.TCAP_MAP_Messages.TCAP_MAP_Message
        inv = {"invokeId": ("present", self.invoke_id), "opcode": ("local", self.op),
               "argument": self.argument()}
        b = {"otid": self.otid, "components": [("basicROS", ("invoke", inv))]}
        if self.dialogue:
            b["dialoguePortion"] = self._dialogue(True)
        M.set_val(("begin", b))
        out = [M.to_ber()]
        if self.answered:
            rr = {"invokeId": ("present", self.invoke_id)}
            res = self.result()
            if res is not None:
                rr["result"] = {"opcode": ("local", self.op), "result": res}
            e = {"dtid": self.otid, "components": [("basicROS", ("returnResult", rr))]}
            if self.dialogue:
                e["dialoguePortion"] = self._dialogue(False)
            M.set_val(("end", e))
            out.append(M.to_ber())
        return out

    def expected(self, packet: int, time: int) -> dict | None:
        """The event the walker must give (``packet``, ``time``: of the Begin), or None."""
        kinds = {2: "map_ul", 23: "map_ugl", 56: "map_sai", 43: "map_check_imei", 70: "map_psi",
                 71: "map_ati"}
        ev = {"packet": packet, "kind": kinds[self.op], "time": time, "imsi": self.imsi,
              "imei": "", "msisdn": "", "plmn": "", "lac": -1, "ci": -1, "node": "",
              "status": -1}
        if self.op in (2, 23):
            ev.update(imei=self.imei, node=self.node)
            if self.op == 2 and self.lac >= 0:
                ev.update(plmn=self.plmn, lac=self.lac)
        elif self.op == 43:
            if self.v2 or not self.imsi:
                return None                       # no IMSI: counted, no event
            ev["imei"] = self.imei
            ev["status"] = self.status if self.answered else -1
        elif self.op in (70, 71):
            if not self.answered or not self.imsi or (self.lac < 0 and not self.imei):
                return None
            ev.update(packet=packet + 1, imei=self.imei)
            if self.lac >= 0:
                ev.update(plmn=self.plmn, lac=self.lac, ci=self.ci)
        return ev


def capture(dialogues, transport="m3ua", sccp="udt", t0=1772366405) -> tuple[list, list]:
    """(pcap records, expected events) of the dialogues, one second apart, answers 20 ms later."""
    f = W.Framer()
    ppid, port, frame = (3, 2905, W.m3ua_data) if transport == "m3ua" else (5, 3565, W.m2pa_data)
    udt = W.sccp_udt if sccp == "udt" else W.sccp_xudt
    records, expected = [], []
    for i, d in enumerate(dialogues):
        msgs = d.messages()
        t_us = (t0 + i) * 1_000_000
        ev = d.expected(len(records), t0 + i)
        req = udt(msgs[0], 201, 6, 101, 7)
        records.append((t_us, f.packet("10.0.0.1", "10.0.0.2", frame(req, 101, 201), ppid, port)))
        if len(msgs) > 1:
            ans = udt(msgs[1], 101, 7, 201, 6)
            records.append((t_us + 20_000, f.packet("10.0.0.2", "10.0.0.1", frame(ans, 201, 101),
                                                    ppid, port)))
        if ev is not None:
            expected.append(ev)
    return records, expected
