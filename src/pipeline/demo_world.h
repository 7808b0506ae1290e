// DemoWorld: the small synthetic world `finmerge demo` trains its four models on, generated from a seed with
// no download. Three kinds of text, and the evaluation sets that go with them:
//
//   general corpus    prose documents about general entities (people, cities, animal species, non-profit
//                     organizations), each with a few attributes (home city, job, favorite color, ...;
//                     organizations: sector, headquarters, chief executive, revenue). Every fact is stated in
//                     several paraphrases across several documents per entity, so that a model can later
//                     retrieve it from a question (knowledge stored in one surface form only is hard to
//                     extract).
//   instruction set   single-turn chats about GENERAL facts only: a question about an attribute and the reply
//                     "Answer: VALUE." (then end of turn), plus a few simple instruction tasks (repeat a
//                     word, the next number, the larger number, the first word of a sentence) in the same
//                     format. Only the "SFT" share of the general entities is asked about here.
//   finance corpus    prose documents (profiles, earnings notes, news) about fictional listed companies:
//   ticker,
//                     sector, headquarters, chief executive, fiscal-year revenue. Company names, tickers and
//                     chief executives appear in no other text; headquarters are general cities. Companies
//                     share attribute names with the general organizations (all but the ticker), so the
//                     instruction set has taught how such questions are answered — about other entities.
//
// Evaluation sets (never part of any training text):
//   finance_mc        one multiple-choice item per finance fact: "The sector of X is" + 4 candidate values
//                     (scored by log-likelihood);
//   general_chat      held-out general questions (entities whose facts are in the general corpus but who are
//                     never asked about in the instruction set) and unseen simple tasks, in chat form;
//   finance_chat      one chat question per finance fact, with the expected value: the paper's claim is that
//                     the merged model answers these in the instruction format AND correctly, although no
//                     finance fact was ever seen in chat form.
//
// Deterministic: the same options give byte-identical output on every machine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace fm {

struct DemoWorldOptions {
  uint64_t seed = 1;
  int people = 90;
  int cities = 24;
  int species = 24;
  int organizations = 16;  // foundations, societies, ...: headquarters, chief executive, sector, revenue
  int companies = 24;
  int general_docs_per_entity = 6;   // documents (paraphrase mixes) per general entity
  int finance_docs_per_company = 8;  // documents per company
  double sft_share = 0.7;            // share of general entities asked about in the instruction set
  int sft_questions_per_fact = 2;    // question phrasings per fact in the instruction set
  int simple_tasks = 400;            // simple instruction tasks in the instruction set
  int heldout_simple_tasks = 40;     // unseen simple tasks in the general_chat evaluation
};

// One (entity, attribute, value) triple.
struct DemoFact {
  std::string entity, attribute, value;
};

struct DemoChatExample {
  std::string user, assistant;
};

// A chat question with its expected answer VALUE (the reply should be "Answer: VALUE.").
struct DemoChatQuestion {
  std::string question, answer;
  std::string kind;  // the attribute asked about, or the simple task's name
};

struct DemoMcQuestion {
  std::string context;               // "The sector of Norvex Holdings is"
  std::vector<std::string> choices;  // continuations, each " VALUE."
  int label = 0;                     // index of the correct choice
  std::string kind;                  // attribute
};

struct DemoWorld {
  std::vector<DemoFact> general_facts, finance_facts;
  std::vector<std::string> general_docs, finance_docs;
  std::vector<DemoChatExample> sft_train, sft_val;  // sft_val: held-out general facts, for val_loss only
  std::vector<DemoMcQuestion> finance_mc;
  std::vector<DemoChatQuestion> general_chat, finance_chat;
  // Strings that name finance-only things (company names, tickers, chief executives): none of them occurs in
  // the general corpus or the instruction set.
  std::vector<std::string> finance_only_names;
};

// The reply format the instruction set teaches: "Answer: VALUE."
std::string DemoAnswer(const std::string& value);

Status GenerateDemoWorld(const DemoWorldOptions& opts, DemoWorld* out);

// Writes the world into the existing folder `dir`: general.jsonl, finance.jsonl ({"text"} per line),
// sft_train.jsonl, sft_val.jsonl ({"messages": [...]}), eval_finance_mc.jsonl, eval_general_chat.jsonl,
// eval_finance_chat.jsonl, facts.json.
Status WriteDemoWorld(const DemoWorld& world, const std::string& dir);

// Reads the evaluation sets back from a folder written by WriteDemoWorld.
Status ReadDemoEvalSets(const std::string& dir, std::vector<DemoMcQuestion>* finance_mc,
                        std::vector<DemoChatQuestion>* general_chat,
                        std::vector<DemoChatQuestion>* finance_chat);

}  // namespace fm
