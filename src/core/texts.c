/* texts.c - the fixed texts in every language, and the choice of language
 * (see texts.h).
 *
 * The translations are short and friendly, as a chat bubble is: Japanese in
 * the polite です/ます form, Chinese in Traditional characters as written in
 * Taiwan. A new fixed text is one row of `builtin` and one case of
 * texts_override. */
#include "core/texts.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <utf8proc.h>

#include "config.h"
#include "core/alloc.h"

static const char *const builtin[TEXT_COUNT][LANG_COUNT] = {
    [TEXT_NONE] = {"", "", ""},
    [TEXT_HELP] =
        {
            "Commands:\n"
            "/reset - forget this conversation and start over\n"
            "/model - show or switch the model (/model NAME)\n"
            "/help - show this list\n"
            "In groups, mention me or reply to one of my messages to ask something.",
            "コマンド:\n"
            "/reset - この会話を忘れて、最初からやり直します\n"
            "/model - モデルを表示・切り替えます（/model 名前）\n"
            "/help - この一覧を表示します\n"
            "グループでは、私をメンションするか、私のメッセージに返信して質問してください。",
            "指令：\n"
            "/reset - 忘記這段對話，重新開始\n"
            "/model - 查看或切換模型（/model 名稱）\n"
            "/help - 顯示這份清單\n"
            "在群組裡，請標註我或回覆我的訊息來提問。",
        },
    [TEXT_RESET] =
        {
            "OK, I've forgotten our conversation. Let's start over.",
            "これまでの会話を忘れました。また最初からお話ししましょう。",
            "好的，我已經忘記我們的對話了。重新開始吧！",
        },
    [TEXT_MEDIA] =
        {
            "Sorry, I can only read text for now.",
            "すみません、今はテキストしか読めません。",
            "抱歉，我目前只看得懂文字訊息。",
        },
    [TEXT_APOLOGY] =
        {
            "Sorry, I couldn't come up with an answer just now. Please try again in a moment.",
            "すみません、今はうまくお答えできませんでした。少し時間をおいて、もう一度お試しください。",
            "抱歉，我現在沒辦法回答。請稍後再試一次。",
        },
    [TEXT_SLOW_DOWN] =
        {
            "You're sending messages faster than I can answer. Please wait a minute.",
            "メッセージが多すぎて、お返事が追いつきません。1分ほどお待ちください。",
            "訊息傳得太快了，我來不及回覆。請稍等一分鐘。",
        },
    [TEXT_TRUNCATED] = {"(truncated)", "（長いので、ここで省略します）", "（內容過長，以下省略）"},
    [TEXT_GREETING] = {"", "", ""},
    [TEXT_MODEL_REFUSED] =
        {
            "Sorry, only the group's admins can change the model here.",
            "すみません、ここでモデルを変更できるのはグループの管理者だけです。",
            "抱歉，在這裡只有群組的管理員可以更換模型。",
        },
    [TEXT_MODEL_CURRENT] = {"Current model: {}", "現在のモデル: {}", "目前的模型：{}"},
    [TEXT_MODEL_LIST] = {"Models:", "モデル一覧:", "模型清單："},
    [TEXT_MODEL_HOWTO] =
        {
            "Tap a button or type /model NAME to switch.",
            "ボタンをタップするか、/model 名前 と入力すると切り替えられます。",
            "點選按鈕，或輸入 /model 名稱 即可切換。",
        },
    [TEXT_MODEL_UNKNOWN] = {"I don't know the model \"{}\".", "「{}」というモデルはありません。", "沒有名為「{}」的模型。"},
    [TEXT_MODEL_SWITCHED] =
        {
            "OK, this chat now uses {}.",
            "このチャットのモデルを {} に切り替えました。",
            "好的，這個聊天室現在改用 {}。",
        },
    [TEXT_KB_SOURCES] = {"Sources", "出典", "資料來源"},
    [TEXT_KB_UNKNOWN] =
        {
            "I don't know that from the documents I have.",
            "手元の資料には、その答えが見つかりませんでした。",
            "我手邊的資料裡找不到這個問題的答案。",
        },
};

const char *texts_builtin(enum text_id id, enum lang lang)
{
    if ((int)id < 0 || id >= TEXT_COUNT)
        id = TEXT_NONE;
    if ((int)lang < 0 || lang >= LANG_COUNT)
        lang = LANG_EN;
    return builtin[id][lang];
}

char *texts_fill(const char *text, const char *value)
{
    const char *at = strstr(text, "{}");
    if (!at)
        return xstrdup(text);
    return xasprintf("%.*s%s%s", (int)(at - text), text, value ? value : "", at + 2);
}

const char *texts_override(const struct config *cfg, enum text_id id)
{
    switch (id) {
    case TEXT_HELP: return cfg->help_text;
    case TEXT_RESET: return cfg->reset_text;
    case TEXT_MEDIA: return cfg->media_text;
    case TEXT_APOLOGY: return cfg->error_text;
    case TEXT_SLOW_DOWN: return cfg->slow_down_text;
    case TEXT_TRUNCATED: return cfg->truncated_text;
    case TEXT_GREETING: return cfg->greeting ? cfg->greeting : "";
    case TEXT_MODEL_REFUSED:
    case TEXT_MODEL_CURRENT:
    case TEXT_MODEL_LIST:
    case TEXT_MODEL_HOWTO:
    case TEXT_MODEL_UNKNOWN:
    case TEXT_MODEL_SWITCHED:
        return NULL; /* no setting: always the built-in text */
    case TEXT_KB_SOURCES: return cfg->kb_sources_label;
    case TEXT_KB_UNKNOWN: return cfg->kb_unknown_text;
    case TEXT_NONE:
    case TEXT_COUNT:
        break;
    }
    return "";
}

const char *texts_get(const struct config *cfg, enum text_id id, enum lang lang)
{
    const char *text = texts_override(cfg, id);
    return text ? text : texts_builtin(id, lang);
}

bool texts_need_lang(const struct config *cfg, enum text_id id)
{
    return cfg->lang == LANG_AUTO && texts_override(cfg, id) == NULL;
}

static const char *const lang_names[LANG_COUNT] = {"en", "ja", "zh-TW"};

const char *texts_lang_name(enum lang lang)
{
    return (int)lang >= 0 && lang < LANG_COUNT ? lang_names[lang] : "auto";
}

int texts_parse_lang(const char *s, enum lang *out)
{
    static const struct {
        const char *name;
        enum lang lang;
    } names[] = {{"auto", LANG_AUTO}, {"en", LANG_EN},           {"ja", LANG_JA},
                 {"zh-TW", LANG_ZH_TW}, {"zh", LANG_ZH_TW}, {"zh-Hant", LANG_ZH_TW}};
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].lang;
            return 0;
        }
    }
    return -1;
}

/* A BCP 47 tag's primary subtag is `prefix`: "ja", "ja-JP", not "jam". */
static bool tag_is(const char *tag, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncasecmp(tag, prefix, n) == 0 && (tag[n] == '\0' || tag[n] == '-' || tag[n] == '_');
}

enum lang texts_lang_of_profile(const char *language)
{
    if (!language || !language[0])
        return LANG_AUTO;
    if (tag_is(language, "ja"))
        return LANG_JA;
    if (tag_is(language, "zh"))
        return LANG_ZH_TW;
    return LANG_EN;
}

/* utf8proc knows categories, not scripts: kana and Han ideographs are both
 * "Lo". So the scripts are Unicode's blocks (Blocks.txt):
 * kana: Hiragana U+3040..309F, Katakana U+30A0..30FF (but not U+30FB, the
 * middle dot Chinese text uses too), Katakana Phonetic Extensions
 * U+31F0..31FF, half-width katakana U+FF66..FF9F, Kana Supplement and
 * Extended-A/B and Small Kana Extension U+1AFF0..1B16F. */
static bool is_kana(int32_t cp)
{
    return (cp >= 0x3040 && cp <= 0x309F) || (cp >= 0x30A0 && cp <= 0x30FF && cp != 0x30FB) ||
           (cp >= 0x31F0 && cp <= 0x31FF) || (cp >= 0xFF66 && cp <= 0xFF9F) || (cp >= 0x1AFF0 && cp <= 0x1B16F);
}

/* Han: CJK Unified Ideographs U+4E00..9FFF and Extension A U+3400..4DBF,
 * Compatibility Ideographs U+F900..FAFF, and Extensions B.. in planes 2
 * and 3 (U+20000..3FFFF). */
static bool is_han(int32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0x20000 && cp <= 0x3FFFF);
}

enum lang texts_lang_of_script(const char *text)
{
    if (!text)
        return LANG_EN;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
    bool han = false;
    while (*p) {
        int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, -1, &cp);
        if (n < 1) { /* an invalid byte says nothing about the script */
            p++;
            continue;
        }
        if (is_kana(cp))
            return LANG_JA; /* Japanese mixes kana into Han; Chinese has none */
        han = han || is_han(cp);
        p += n;
    }
    return han ? LANG_ZH_TW : LANG_EN;
}
