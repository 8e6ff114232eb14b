"""Text features across scripts: Chinese, Japanese and Korean raids, disputes and quiet chat."""
from __future__ import annotations

from crisis.detection import DetectorSettings
from crisis.detection.text import hostility, jaccard, link_domains, mention_count, tokens

from .streams import T0, Stream, incidents, kinds

WARM = 4
ZH_WORDS = ("今天 大家 晚上 一起 游戏 更新 版本 活动 周末 地图 队伍 比赛 服务器 攻略 问题 谢谢 "
            "好的 可以 明天 时间 音乐 视频 直播 关卡 任务 咖啡 照片 新手 老板 装备").split()


class ZhStream(Stream):
    """Ordinary Chinese chat: words run together with full-width punctuation, as people type."""

    def words(self, k: int) -> str:
        return "".join(self.rng.choice(ZH_WORDS) for _ in range(k)) + self.rng.choice(("", "，", "。", "！", "？"))


def test_near_duplicates_in_cjk_share_character_bigrams() -> None:
    a = tokens("免费领取游戏礼包，快来群里领取！")
    b = tokens("免费领取游戏礼包，快来群里领取吧")
    c = tokens("今天晚上一起打副本吗")
    assert jaccard(a, b) >= 0.6 > jaccard(a, c)
    ja = (tokens("無料ギフトを今すぐ受け取ってください"), tokens("無料ギフトを今すぐ受け取って下さい"))
    ko = (tokens("무료 선물을 지금 받으세요 여러분"), tokens("무료 선물을 지금 받으세요 친구들"))
    assert jaccard(*ja) >= 0.6 and jaccard(*ko) >= 0.6


def test_fingerprints_ignore_full_width_forms_and_which_emoji() -> None:
    assert tokens("ＦＲＥＥ　ＮＩＴＲＯ　ｈｅｒｅ　🎁") == tokens("free nitro here 🎉")
    assert link_domains("领取 ｈｔｔｐｓ：／／ｇｉｆｔ．ｅｘａｍｐｌｅ／１") == ["gift.example"]
    assert mention_count("＠ｅｖｅｒｙｏｎｅ 快来") == (1, True)


def test_chinese_insults_score_and_banter_or_everyday_words_do_not() -> None:
    assert hostility("你这个傻逼，闭嘴！") >= 2
    assert hostility("垃圾玩家，滚") >= 2
    assert hostility("你个傻子哈哈") == 0  # banter
    assert hostility("记得倒垃圾桶，滚动条也修好了") == 0
    assert hostility("バカ、黙れ") >= 2 and hostility("닥쳐 병신아") >= 2


def test_shouting_is_measured_without_letter_case() -> None:
    assert hostility("闭嘴！！！") > hostility("闭嘴")
    assert hostility("滚滚滚") > 0
    assert hostility("今天天气真好") == 0


def test_a_community_adds_its_own_terms() -> None:
    plain = DetectorSettings()
    own = DetectorSettings(hostile_terms=["菜狗", "noob"], friendly_terms=["gg"])
    assert plain.hostility.score("你个菜狗") == 0 < own.hostility.score("你个菜狗")
    assert own.hostility.score("noob!") == 1
    assert own.hostility.score("idiot gg") == 0
    assert DetectorSettings.from_dict(own.to_dict()).hostility.score("菜狗") == 1


def test_a_chinese_raid_without_links_opens_one_incident() -> None:
    s = ZhStream()
    s.background(T0, WARM + 2)
    s.raid(T0 + WARM * 3600, 80, 600, age_days=900, template="兄弟们快来新群，这里福利多多，进群就送皮肤{i}")
    incs = incidents(s.events())
    assert kinds(incs) == ["raid"]
    assert incs[0]["evidence"]["signals"] == ["content"]  # old accounts: no join burst, the text decided


def test_ordinary_chinese_chat_and_a_chinese_promotion_stay_quiet() -> None:
    s = ZhStream()
    s.background(T0, WARM + 3, msgs_per_min=12)
    for i in range(120):  # newcomers greeting with the usual few words
        t = T0 + WARM * 3600 + s.rng.uniform(0, 3600)
        s.add(t, "member.join", f"pr{i}", age_days=s.rng.uniform(30, 3000))
        s.msg(t + 30, f"pr{i}", s.rng.choice(("大家好", "新人报到", "你好", "")) + s.words(s.rng.randint(2, 6)))
    assert incidents(s.events()) == []


def test_mixed_script_spam_from_old_accounts_is_a_spam_wave() -> None:
    s = ZhStream()
    s.background(T0, WARM + 2)
    for i in range(12):
        t = T0 + WARM * 3600 + 20 * i
        text = f"免费领 Nitro 礼包 ｈｔｔｐｓ：／／ｆｒｅｅ－ｎｉｔｒｏ．ｃｎ／{i} 快点击"
        s.msg(t, s.members[i], text, channel="general")
    assert kinds(incidents(s.events())) == ["spam_wave"]


def test_japanese_and_korean_raids_without_links_are_found() -> None:
    for template in ("みんな新しいグループに来てね、特典がいっぱいあるよ{i}",
                     "여러분 새로운 그룹으로 오세요 선물이 많아요 {i}"):
        s = Stream()
        s.background(T0, WARM + 2)
        s.raid(T0 + WARM * 3600, 60, 600, age_days=900, template=template)
        assert kinds(incidents(s.events())) == ["raid"], template


def test_a_chinese_dispute_opens_and_friendly_chinese_banter_does_not() -> None:
    insults = ("你就是个傻逼", "闭嘴吧废物", "你懂个屁，滚", "脑残才这么说", "垃圾言论，不要脸")
    calm = ("我不这么认为", "版本更新说明不是这样写的", "也许吧")
    friendly = ("哈哈哈你太逗了", "谢谢老哥", "同意，好的", "笑死我了哈哈")
    for texts, expect in (((calm, insults), ["dispute"]), ((friendly, friendly), [])):
        s = ZhStream()
        s.background(T0, WARM + 1)
        t = T0 + WARM * 3600
        for i in range(10):
            x, y = ("u1", "u2") if i % 2 == 0 else ("u2", "u1")
            pool = texts[1] if i >= 2 else texts[0]
            t += 30
            s.msg(t, x, s.rng.choice(pool), channel="media", reply_to=y)
        assert kinds(incidents(s.events())) == expect
