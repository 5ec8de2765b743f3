import pytest
import torch

from labkit.labs.inference import zoo

pytest.importorskip("transformers")


def test_resnet18_is_built_offline_with_random_weights_in_eval_mode():
    model = zoo.build("resnet18")
    assert sum(p.numel() for p in model.parameters()) == 11_689_512 and not model.training
    assert model(zoo.image_batch(2)).shape == (2, 1000)


def test_bert_base_qa_is_built_offline_from_its_config():
    model = zoo.build("bert")
    assert sum(p.numel() for p in model.parameters()) == 107_721_218
    assert model.config.vocab_size == 28_996 and model.config.max_position_embeddings == zoo.BERT_MAX_POSITIONS


def test_question_answering_returns_start_and_end_logits_per_token():
    from lab3_models import tiny_bert

    start, end = tiny_bert()(*zoo.token_batch(3, 10))
    assert start.shape == end.shape == (3, 10)


def test_token_batch_is_seeded_with_a_full_mask_and_two_segments():
    ids, mask, segments = zoo.token_batch(2, 8, seed=1)
    again, _, _ = zoo.token_batch(2, 8, seed=1)
    assert torch.equal(ids, again) and ids.max() < zoo.BERT_VOCAB_SIZE
    assert mask.eq(1).all() and segments[:, :4].eq(0).all() and segments[:, 4:].eq(1).all()


@pytest.mark.parametrize("seq_len", [0, 513, 2.5, True])
def test_a_bad_sequence_length_names_the_range(seq_len):
    with pytest.raises(ValueError, match=r"seq_len=.*1 to 512"):
        zoo.token_batch(1, seq_len)


def test_an_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"'vgg16'.*\['resnet18', 'bert'\]"):
        zoo.build("vgg16")


def test_example_inputs_give_images_or_three_token_tensors():
    (images,) = zoo.example_inputs("resnet18", 2)
    assert images.shape == (2, 3, 224, 224)
    assert [t.shape for t in zoo.example_inputs("bert", 2, seq_len=16)] == [(2, 16)] * 3


def test_pretrained_without_network_stops_with_what_it_tried(monkeypatch):
    import torchvision

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torchvision.models, "resnet18", offline)
    with pytest.raises(RuntimeError, match=r"IMAGENET1K_V1.*https://.*pretrained=False"):
        zoo.resnet18(pretrained=True)
    from transformers import BertForQuestionAnswering

    monkeypatch.setattr(BertForQuestionAnswering, "from_pretrained", offline)
    with pytest.raises(RuntimeError, match=r"deepset/bert-base-cased-squad2.*pretrained=False"):
        zoo.bert_qa(pretrained=True)


@pytest.mark.parametrize("name", ["bert", "a/b/c", " /x"])
def test_a_malformed_checkpoint_name_is_refused(name):
    with pytest.raises(ValueError, match="bert_checkpoint"):
        zoo.check_bert_checkpoint(name)
    with pytest.raises(ValueError, match="resnet_weights"):
        zoo.check_resnet18_weights("IMAGENET_V9")
